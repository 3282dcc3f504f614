"""Training run state: atomic checkpoints (model, EMA, optimisers, RNG), graceful stop, metrics trimming."""
from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..io.atomic import atomic_path

LATEST = "latest.pt"
BEST = "best.pt"


def numbered(step: int) -> str:
    return f"step_{step:08d}.pt"


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch generator states (CUDA too when present)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` atomically: on any failure (a full disk) the previous file at ``path`` survives."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint; unreadable files are one CheckpointError line."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"no training checkpoint at {p}")
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for torn or foreign files
        raise CheckpointError(f"{p.name}: not a readable training checkpoint ({type(exc).__name__})") from None


class StopFlag:
    """SIGINT/SIGTERM set a flag instead of killing the process; handlers are restored on exit."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopFlag":
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: stop only through request()
            self._old.clear()
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def request(self) -> None:
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def trim_metrics(path: Path, last_step: int) -> None:
    """Drop JSONL rows past ``last_step`` (written after the last checkpoint of a killed run)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                keep.append(line)
        except (ValueError, KeyError):
            continue  # a torn last line
    path.write_text("".join(k + "\n" for k in keep))
