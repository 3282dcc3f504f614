"""Training checkpoints: atomic torch files with model, EMA, optimisers and RNG states."""
from __future__ import annotations

import os
import random
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
