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
    """Python, numpy and torch generator states (CUDA too when present), as tensors and plain data only,
    so checkpoints load with ``torch.load(weights_only=True)``."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
             "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` (also the tuple form of checkpoints written before it stored tensors)."""
    py, npy = state["python"], state["numpy"]
    if isinstance(py, dict):
        py = (py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"])
    if isinstance(npy, dict):
        npy = (npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["cached"])
    try:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(state["torch"])
    except (TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"the checkpoint's random generator state is malformed ({type(exc).__name__})") from None
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``state`` atomically: on any failure (a full disk) the previous file at ``path`` survives."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A training checkpoint, unpickled without running code (tensors and plain data only; see
    :func:`gpstoken.models.training_checkpoint.safe_load`); anything else is one CheckpointError line."""
    from ..models.training_checkpoint import safe_load

    state = safe_load(Path(path))
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise CheckpointError(f"{Path(path).name}: not a GPSToken training checkpoint (no step number)")
    return state


def read_run_json(path: Path) -> Any:
    """A JSON file of a run folder (config.json, run.json); unreadable or malformed: one line naming it."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable JSON file ({type(exc).__name__})") from None


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
    """Drop JSONL rows past ``last_step`` (written after the last checkpoint of a killed run). The file is
    replaced atomically: a kill during the rewrite leaves the old file whole. Untouched when nothing drops."""
    if not path.exists():
        return
    keep, dropped = [], False
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                row = json.loads(line)
                if row["step"] <= last_step:
                    keep.append(line)
                    continue
            except (ValueError, KeyError, TypeError):
                pass  # a torn or foreign line
            dropped = True
    if not dropped:
        return
    with atomic_path(path) as tmp, open(tmp, "w") as out:
        out.writelines(k + "\n" for k in keep)
