"""Process-wide runtime settings: torch thread count and the default device."""
from __future__ import annotations

import functools
from pathlib import Path

import torch

from .errors import GPSTokenError
from .limits import positive_env

THREADS_ENV = "GPSTOKEN_THREADS"


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count (``None``: $GPSTOKEN_THREADS, else 1) and return it.

    One thread is several times faster than two for the small ops of this engine on 2-core machines.
    """
    if n is None:
        n = positive_env(THREADS_ENV, 1)
    if n < 1:
        raise GPSTokenError(f"--threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    return n


def default_device() -> torch.device:
    """CUDA if present, then MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """The CPU computes bf16 in hardware (AVX512-BF16 or AMX): bf16 inference is then about 2x faster
    than fp32 for our convolutions; elsewhere it is emulated and slower. Linux only; False when unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags
