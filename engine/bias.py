"""Bias maps for the partition: validation and exact box sums.

The reference adds the sum of a per-pixel bias map over a region to the region's metric. Here the
map is summed in fixed point (resolution ``BIAS_STEP`` per pixel) through an int64 integral image,
so every box sum costs four reads, is exact and does not depend on the summation order: equal painted
areas get exactly equal sums, and ties then break as in the reference.
"""
from __future__ import annotations

import numba
import numpy as np

from .errors import GPSTokenError

BIAS_STEP = 2.0 ** -16
_SUM_LIMIT = 2.0 ** 46  # max |bias| * pixels, so fixed-point sums stay far inside int64


def bias_integral(bias: np.ndarray, image_hw: tuple[int, int], canvas_hw: tuple[int, int]) -> np.ndarray:
    """Fixed-point integral image ``[H'+1, W'+1]`` (int64) of ``bias [H, W]`` zero-padded to the canvas."""
    b = np.asarray(bias)
    if b.shape != tuple(image_hw):
        got = "x".join(str(s) for s in b.shape) or "a scalar"
        raise GPSTokenError(f"bias map is {got}, expected the image size {image_hw[0]}x{image_hw[1]}")
    if b.dtype == np.bool_ or not (np.issubdtype(b.dtype, np.integer) or np.issubdtype(b.dtype, np.floating)):
        raise GPSTokenError(f"bias map must hold real numbers, got dtype {b.dtype}")
    if b.dtype not in (np.float32, np.float64):
        b = b.astype(np.float64)
    out = np.empty((canvas_hw[0] + 1, canvas_hw[1] + 1), dtype=np.int64)
    status = _fixed_point_integral(b, out, 1.0 / BIAS_STEP, _SUM_LIMIT / max(b.size, 1))
    if status == 1:
        raise GPSTokenError("bias map holds NaN or infinite values")
    if status == 2:
        limit = _SUM_LIMIT / b.size
        raise GPSTokenError(f"bias values are too large: |bias| must stay below {limit:.3g} for this image")
    return out


def box_sums(integral: np.ndarray, boxes: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Bias sums (float64) over boxes ``[K, 4]`` = (y0, x0, h, w), offset by ``origin`` (y, x) in the canvas."""
    y0 = boxes[:, 0] + origin[0]
    x0 = boxes[:, 1] + origin[1]
    y1 = y0 + boxes[:, 2]
    x1 = x0 + boxes[:, 3]
    s = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    return s * BIAS_STEP


@numba.njit(cache=True, boundscheck=False, nogil=True)
def _fixed_point_integral(b: np.ndarray, out: np.ndarray, scale: float, limit: float) -> int:
    """Fill ``out`` with the integral of round(b * scale); 0 = ok, 1 = non-finite value, 2 = |b| > limit."""
    h, w = b.shape
    out[0, :] = 0
    for y in range(out.shape[0] - 1):
        out[y + 1, 0] = 0
        run = 0
        for x in range(out.shape[1] - 1):
            if y < h and x < w:
                v = np.float64(b[y, x])
                if not np.isfinite(v):
                    return 1
                if abs(v) > limit:
                    return 2
                run += np.int64(np.rint(v * scale))
            out[y + 1, x + 1] = out[y, x + 1] + run
    return 0
