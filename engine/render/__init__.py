"""Bounded Gaussian splatting of tokens onto a feature map, exactly as the official renderer does.

For pixel (row r, col c) of an H x W map, X = 2c/(W-1) - 1 and Y = 2r/(H-1) - 1. A token
``[sx, sy, rho, mx, my, f...]`` is skipped there iff |X-mx| > support*sx or |Y-my| > support*sy;
otherwise it adds ``exp(-q / (2(1-rho^2))) * f`` with
q = dx^2/sx^2 - 2 rho dx dy/(sx sy) + dy^2/sy^2. No normalisation, nothing clamped.

Backends: ``numba`` (compiled CPU kernels, float32), ``triton`` (tiled GPU kernels, float32 and half
types), ``torch`` (windowed, any device), ``dense`` (the reference); ``auto`` picks numba for CPU
tensors of float32 or half types, triton for such CUDA tensors, and torch otherwise.
All are differentiable in every token parameter, with the box treated as constant.

NaN tokens do not raise; they propagate as in the official kernel: a NaN in rho or in a colour
makes the pixels of that token's box NaN, and a NaN in sx or mx (sy or my) cannot reject any
column (row), so NaN spreads over the token's whole row band (column band). sigma <= 0 or
|rho| >= 1 give whatever the formula gives (empty boxes, inf or NaN); use
``gpstoken.tokens.check_gaussians`` to reject such tokens up front.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import torch

from .._callable_module import make_module_callable
from ..errors import GPSTokenError
from ..tokens import merge_tiles
from .dense import splat_dense

BACKENDS = ("auto", "numba", "triton", "torch", "dense")
_HALF_TYPES = (torch.bfloat16, torch.float16)


def render(
    tokens: torch.Tensor | np.ndarray,
    size: Sequence[int],
    support: float = 3.0,
    backend: str = "auto",
) -> torch.Tensor:
    """Splat tokens ``[B, N, 5+C]`` (or ``[N, 5+C]``) -> ``[B, C, H, W]`` (or ``[C, H, W]``), size = (H, W).

    The result has the input's dtype (half types compute in float32); it may be channels-last strided.
    """
    t, height, width, batched = _check(tokens, size, support)
    out = _splatter(_choose(backend, t))(t, height, width, float(support))
    return out if batched else out[0]


def render_dense(tokens: torch.Tensor | np.ndarray, size: Sequence[int], support: float = 3.0) -> torch.Tensor:
    """The reference: the dense masked formula in pure torch (chunked, bounded memory), same shapes as render."""
    return render(tokens, size, support, backend="dense")


def render_tiles(
    tokens: torch.Tensor | np.ndarray,
    tile_grid: Sequence[int],
    grid_per_tile: int = 64,
    support: float = 3.0,
    backend: str = "auto",
) -> torch.Tensor:
    """Tile-local tokens ``[B*T, N, D]`` -> ``[B, C, grid*rows, grid*cols]``: merged, then rendered once.

    This is the official high-resolution path (tokens rescaled into one plane, so they blend across tiles).
    """
    t = _as_tensor(tokens)
    if t.dim() != 3:
        raise GPSTokenError(f"render_tiles: tokens must be [B*T, N, 5+C], got shape {tuple(t.shape)}")
    if len(tile_grid) != 2 or min(tile_grid) < 1:
        raise GPSTokenError(f"render_tiles: tile_grid must be (rows, cols) >= 1, got {tuple(tile_grid)}")
    rows, cols = (int(v) for v in tile_grid)
    return render(merge_tiles(t, (rows, cols)), (grid_per_tile * rows, grid_per_tile * cols), support, backend)


def numba_available() -> bool:
    """Whether the compiled CPU backend can be used."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def triton_available() -> bool:
    """Whether the Triton kernels can be used (on CUDA tensors, or on CPU tensors with TRITON_INTERPRET=1)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def _triton_runs_on(device: torch.device) -> bool:
    return device.type == "cuda" or (device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1")


def _as_tensor(tokens: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(tokens, np.ndarray):
        return torch.from_numpy(tokens)
    if not isinstance(tokens, torch.Tensor):
        raise GPSTokenError(f"render: tokens must be a torch tensor or numpy array, got {type(tokens).__name__}")
    return tokens


def _check(
    tokens: torch.Tensor | np.ndarray, size: Sequence[int], support: float
) -> tuple[torch.Tensor, int, int, bool]:
    t = _as_tensor(tokens)
    if t.dim() not in (2, 3):
        raise GPSTokenError(f"render: tokens must be [N, 5+C] or [B, N, 5+C], got shape {tuple(t.shape)}")
    if t.shape[-1] < 5:
        raise GPSTokenError(f"render: tokens have {t.shape[-1]} channels, need at least 5 (sx, sy, rho, mx, my)")
    if not t.is_floating_point():
        raise GPSTokenError(f"render: tokens must be floating point, got {t.dtype}")
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise GPSTokenError(f"render: size must be (H, W), got {size!r}") from None
    if height < 2 or width < 2:
        raise GPSTokenError(f"render: size must be at least 2x2 pixels, got {height}x{width}")
    try:
        ok = math.isfinite(float(support)) and float(support) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise GPSTokenError(f"render: support must be a finite number > 0, got {support!r}")
    batched = t.dim() == 3
    return (t if batched else t[None]), height, width, batched


def _choose(backend: str, t: torch.Tensor) -> str:
    if backend not in BACKENDS:
        raise GPSTokenError(f"render: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    single = t.dtype == torch.float32 or t.dtype in _HALF_TYPES
    cpu_single = t.device.type == "cpu" and single
    if backend == "auto":
        if cpu_single and numba_available():
            return "numba"
        return "triton" if t.device.type == "cuda" and single and triton_available() else "torch"
    if backend == "numba" and not numba_available():
        raise GPSTokenError("render: the numba backend needs the numba package (pip install numba)")
    if backend == "numba" and not cpu_single:
        raise GPSTokenError(f"render: the numba backend needs CPU float32 tokens, got {t.dtype} on {t.device}")
    if backend == "triton" and not triton_available():
        raise GPSTokenError("render: the triton backend needs the triton package (pip install triton)")
    if backend == "triton" and not (single and _triton_runs_on(t.device)):
        raise GPSTokenError(f"render: the triton backend needs CUDA float32 or half tokens (CPU ones with "
                            f"TRITON_INTERPRET=1), got {t.dtype} on {t.device}")
    return backend


def _splatter(backend: str):
    if backend == "numba":
        from .cpu_numba import splat_numba

        return splat_numba
    if backend == "triton":
        from .triton_splat import splat_triton

        return splat_triton
    if backend == "torch":
        from .torch_windows import splat_windows

        return splat_windows
    return splat_dense


make_module_callable(__name__)
