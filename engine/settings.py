"""Process-wide runtime settings: torch thread count and the default device."""
from __future__ import annotations

import os

import torch

THREADS_ENV = "GPSTOKEN_THREADS"


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (``None``: $GPSTOKEN_THREADS, else 1) and return it.

    One thread is several times faster than two for the small ops of this engine on 2-core machines.
    """
    if n is None:
        n = int(os.environ.get(THREADS_ENV, "1"))
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n


def default_device() -> torch.device:
    """CUDA if present, then MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
