"""Training as a process: the runner's start/events/stop (SIGINT saves), SIGKILL recovery, DDP on gloo."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from gpstoken.train import RunSpec, train_tokenizer
from gpstoken.train.runner import TrainingRun
from gpstoken.train.state import load_checkpoint
from train_helpers import make_images

torch.set_num_threads(1)
LONG = ["--steps", "100000"]


def _wait_for_checkpoint(run: TrainingRun, min_step: int) -> int:
    for row in run.events(timeout=120):
        if row.get("event") == "checkpoint" and row["step"] >= min_step:
            return row["step"]
    raise AssertionError(f"no checkpoint at step >= {min_step}; log:\n{(run.out / 'train.log').read_text()[-2000:]}")


def test_sigint_saves_and_stops_then_sigkill_loses_only_steps_since_the_checkpoint(tmp_path):
    data = make_images(tmp_path / "data")
    out = tmp_path / "run"
    run = TrainingRun.start(out, config="micro", data=str(data), args=LONG)
    _wait_for_checkpoint(run, 2)
    assert run.stop(timeout=120) == 0
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    stopped = events[-1]
    assert stopped["event"] == "stopped" and load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == stopped["step"]
    assert not (out / "process.json").exists()

    again = TrainingRun.start(out, resume=True)
    assert TrainingRun.attach(out, from_start=False).out == out
    saved = _wait_for_checkpoint(again, stopped["step"] + 2)
    os.kill(again.pid, signal.SIGKILL)
    again.wait(30)
    kept = load_checkpoint(out / "checkpoints" / "latest.pt")["step"]
    assert kept >= saved
    summary = train_tokenizer(RunSpec(out=out, resume=True, steps=kept + 2))
    assert summary == {**summary, "step": kept + 2, "status": "finished"}
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()
             if "split" not in json.loads(x)]
    assert steps == sorted(steps) and len(steps) == len(set(steps))  # rows past the checkpoint were dropped


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None, reason="no torchrun")
def test_ddp_with_two_gloo_processes_trains_and_saves_once(tmp_path):
    data = make_images(tmp_path / "data")
    out = tmp_path / "run"
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "gpstoken.cli", "train", "tokenizer",
           "--config", "micro", "--data", str(data), "--out", str(out), "--steps", "2", "--device", "cpu"]
    env = {**os.environ, "GPSTOKEN_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["world"] == 2 and events[-1]["event"] == "finished"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "split" not in x]
    assert [r["step"] for r in rows] == [1, 2]  # rank 0 logs alone
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 2
