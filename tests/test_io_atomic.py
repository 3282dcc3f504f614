"""Atomic writes: special files refused, symlinks written through, stale temp files of dead writers removed,
and run-folder files rewritten on resume (metrics.jsonl) replaced, never rewritten in place."""
from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import torch
from gpstoken.errors import GPSTokenError
from gpstoken.io.atomic import atomic_path, check_output_file
from gpstoken.io.images import save_image
from gpstoken.train.state import rng_state, set_rng_state, trim_metrics


def dead_pid() -> int:
    """A pid no process has now (searched downwards from a high number)."""
    for pid in range(4_000_000, 3_000_000, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    pytest.skip("no free pid found")


def test_stale_temp_files_of_dead_writers_are_removed_on_the_next_write(tmp_path):
    stale = tmp_path / f".recon.{dead_pid()}-abc123.tmp.png"
    live = tmp_path / f".recon.{os.getpid()}-def456.tmp.png"
    other = tmp_path / ".notes.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"x")
    save_image(tmp_path / "recon.png", np.zeros((4, 4, 3), np.uint8))
    assert not stale.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "recon.png"])


def test_a_symlink_output_is_written_through(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    with atomic_path(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and target.read_text() == "new"


@pytest.mark.parametrize("make, words", [(lambda p: p.mkdir(), "folder"), (lambda p: os.mkfifo(p), "FIFO")])
def test_special_files_are_refused_by_writes_and_checks(tmp_path, make, words):
    path = tmp_path / "out.json"
    make(path)
    with pytest.raises(GPSTokenError, match=words), atomic_path(path) as tmp:
        tmp.write_text("never")
    with pytest.raises(GPSTokenError, match=words):
        check_output_file(path)
    assert not list(tmp_path.glob(".*"))


def test_dev_null_is_refused_and_stays_a_device():
    with pytest.raises(GPSTokenError, match="device"), atomic_path("/dev/null") as tmp:
        tmp.write_text("never")
    assert not os.path.isfile("/dev/null")


def test_trim_metrics_replaces_the_file_and_keeps_rows_up_to_the_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in range(1, 11)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 11, "lo')
    inode = path.stat().st_ino
    trim_metrics(path, 6)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3, 4, 5, 6]
    assert path.stat().st_ino != inode  # a new file renamed over the old: a kill mid-write leaves the old one
    inode = path.stat().st_ino
    trim_metrics(path, 6)  # nothing to drop: untouched
    assert path.stat().st_ino == inode


def test_rng_state_is_tensors_and_plain_data_and_round_trips(tmp_path):
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    state = rng_state()
    torch.save(state, tmp_path / "rng.pt")
    loaded = torch.load(tmp_path / "rng.pt", weights_only=True)  # no numpy objects: loads without allow-lists
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    set_rng_state(loaded)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_rng_state_of_older_checkpoints_still_restores():
    random.seed(1)
    np.random.seed(2)
    old = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    expected = (random.random(), np.random.rand())
    set_rng_state(old)
    assert (random.random(), np.random.rand()) == expected
