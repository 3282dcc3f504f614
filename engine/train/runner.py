"""Training runs as subprocesses, for the editor's training panel: start, stream events, stop, attach.

A run is identified by its folder. ``TrainingRun.start`` launches ``python -m gpstoken train
tokenizer ...`` detached from the caller's terminal; ``events()`` yields the new rows of
``events.jsonl`` and ``metrics.jsonl`` (each tagged with ``source``); ``stop()`` sends SIGINT, which
makes the trainer save a checkpoint and exit; ``attach`` follows a run started elsewhere (its pid is
in ``process.json`` while it runs).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from ..errors import GPSTokenError
from .trainer import EVENTS_FILE, METRICS_FILE, PROCESS_FILE

FINAL_EVENTS = ("finished", "stopped", "error")


class _Tail:
    """New complete lines of a growing JSONL file."""

    def __init__(self, path: Path, from_start: bool) -> None:
        self.path = path
        self.offset = 0 if from_start or not path.exists() else path.stat().st_size

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        self.offset = min(self.offset, self.path.stat().st_size)  # a resumed run trims its metrics file
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # leave a half-written last line for the next read
        self.offset += end
        out = []
        for line in data[:end].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


def training_command(out: str | os.PathLike, config: str | None = None, data: str | None = None,
                     args: list[str] | tuple[str, ...] = (), resume: bool = False, threads: int = 1) -> list[str]:
    """The argv ``TrainingRun.start`` runs for these arguments."""
    cmd = [sys.executable, "-m", "gpstoken.cli", "--threads", str(threads), "train", "tokenizer", "--out", str(out)]
    cmd += ["--config", str(config)] if config else []
    cmd += ["--data", str(data)] if data else []
    cmd += ["--resume"] if resume else []
    return cmd + [str(a) for a in args]


class TrainingRun:
    """A training run folder, optionally with the process training it."""

    def __init__(self, out: str | os.PathLike, process: subprocess.Popen | None = None, pid: int | None = None,
                 from_start: bool = True) -> None:
        self.out = Path(out)
        self.process = process
        self.pid = process.pid if process is not None else pid
        self._tails = [(_Tail(self.out / EVENTS_FILE, from_start), "events"),
                       (_Tail(self.out / METRICS_FILE, from_start), "metrics")]

    @classmethod
    def start(cls, out: str | os.PathLike, *, config: str | None = None, data: str | None = None,
              args: list[str] | tuple[str, ...] = (), resume: bool = False, threads: int = 1,
              log: str | os.PathLike | None = None) -> "TrainingRun":
        """Launch ``gpstoken train tokenizer`` in a new process group; output goes to ``log``
        (default ``OUT/train.log``). Events are streamed from this start on."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        cmd = training_command(out, config, data, args, resume, threads)
        log_fh = open(log or out / "train.log", "ab")
        try:
            proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            log_fh.close()
        return cls(out, proc, from_start=False)

    @classmethod
    def attach(cls, out: str | os.PathLike, from_start: bool = True) -> "TrainingRun":
        """Follow an existing run folder; its live process, if any, from ``process.json``."""
        out = Path(out)
        if not (out / EVENTS_FILE).exists() and not (out / "config.json").exists():
            raise GPSTokenError(f"{out} is not a training run folder")
        pid = None
        try:
            pid = int(json.loads((out / PROCESS_FILE).read_text())["pid"])
            os.kill(pid, 0)
        except (OSError, ValueError, KeyError):
            pid = None
        return cls(out, pid=pid, from_start=from_start)

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def poll_events(self) -> list[dict]:
        """Rows written since the last call, each with ``source`` = "events" or "metrics"."""
        rows = []
        for tail, source in self._tails:
            rows += [{**r, "source": source} for r in tail.rows()]
        return rows

    def events(self, timeout: float | None = None, interval: float = 0.2) -> Iterator[dict]:
        """Yield rows as they appear until a final event (finished/stopped/error), the process ends,
        or ``timeout`` seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            alive = self.running
            for row in self.poll_events():
                yield row
                if row.get("source") == "events" and row.get("event") in FINAL_EVENTS:
                    return
            if not alive or (deadline is not None and time.monotonic() > deadline):
                return
            time.sleep(interval)

    def stop(self, timeout: float = 60.0) -> int | None:
        """Ask the trainer to save and exit (SIGINT); wait up to ``timeout`` s; the exit status if known."""
        if not self.running:
            return self.process.returncode if self.process is not None else None
        os.kill(self.pid, signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the process to end; its exit status (None when attached or still running)."""
        if self.process is not None:
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
        end = None if timeout is None else time.monotonic() + timeout
        while self.running and (end is None or time.monotonic() < end):
            time.sleep(0.2)
        return None
