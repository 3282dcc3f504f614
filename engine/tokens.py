"""The token layout of the official code and its conversions.

A token is ``[sigma_x, sigma_y, rho, mu_x, mu_y, f_0 .. f_{C-1}]``. Coordinates are normalised to
[-1, 1] with corner-aligned pixel centres (pixel ``p`` of a length-``L`` axis sits at ``2p/(L-1)-1``);
sigmas use the same units (the plane is 2 wide). mu_x is the column, mu_y the row.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from .errors import GPSTokenError
from .tiling import tile_positions

SX, SY, RHO, MX, MY = range(5)
GEOMETRY_CHANNELS = 5
SIGMA_MIN = 1e-5
SIGMA_MAX = 1.0 - 1e-5
RHO_MAX = 1.0 - 1e-5

Array = TypeVar("Array", np.ndarray, torch.Tensor)


def axis_to_norm(p: Array | float, length: int) -> Array | float:
    """Pixel index on a corner-aligned axis of ``length`` pixels -> normalised coordinate."""
    return 2.0 * p / (length - 1) - 1.0


def norm_to_axis(u: Array | float, length: int) -> Array | float:
    """Normalised coordinate -> (fractional) pixel index on a corner-aligned axis."""
    return (u + 1.0) * (length - 1) / 2.0


def reframe(tokens: np.ndarray, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> np.ndarray:
    """Float32 copy of tokens ``[..., >=5]`` normalised to a corner-aligned pixel grid of ``from_hw``, with the same
    Gaussians normalised to a grid of ``to_hw`` that shares its top-left pixel (as an image edge-padded at the
    bottom and right shares it with the padded tile); features unchanged, sigmas clamped to their bounds."""
    (fh, fw), (th, tw) = from_hw, to_hw
    if min(fh, fw, th, tw) < 2:
        raise GPSTokenError(f"cannot reframe tokens between {fw}x{fh} and {tw}x{th} pixel grids (need >= 2 px a side)")
    out = np.array(tokens, dtype=np.float32, copy=True)
    sx, sy = (fw - 1) / (tw - 1), (fh - 1) / (th - 1)
    out[..., MX] = (out[..., MX] + 1) * sx - 1
    out[..., MY] = (out[..., MY] + 1) * sy - 1
    out[..., SX] *= sx
    out[..., SY] *= sy
    return clamp_gaussians(out)


def g_init_from_regions(regions_px: np.ndarray, tile_hw: tuple[int, int] = (256, 256)) -> np.ndarray:
    """Official g_init ``[..., 5]`` of tile-local pixel boxes ``(x0, y0, x1, y1)`` with inclusive ends.

    sigma = (side - 1) * 2 / (3 * L), rho = 0, mu = corner-aligned centre (facts §1.5).
    """
    r = np.asarray(regions_px, dtype=np.float64)
    h, w = tile_hw
    g = np.zeros(r.shape[:-1] + (5,), dtype=np.float64)
    g[..., SX] = (r[..., 2] - r[..., 0]) / w * 2 / 3
    g[..., SY] = (r[..., 3] - r[..., 1]) / h * 2 / 3
    g[..., MX] = (r[..., 0] + r[..., 2]) / (w - 1) - 1
    g[..., MY] = (r[..., 1] + r[..., 3]) / (h - 1) - 1
    return g.astype(np.float32)


def normalize_regions(regions_px: np.ndarray, tile_hw: tuple[int, int] = (256, 256)) -> np.ndarray:
    """Tile-local pixel boxes (inclusive ends) -> the official normalised boxes, float32."""
    r = np.asarray(regions_px, dtype=np.float64)
    h, w = tile_hw
    scale = np.array([w, h, w, h], dtype=np.float64) - 1
    return (2 * r / scale - 1).astype(np.float32)


def regions_to_pixels(regions_norm: np.ndarray, tile_hw: tuple[int, int] = (256, 256)) -> np.ndarray:
    """Official normalised boxes -> tile-local integer pixel boxes (inclusive ends)."""
    r = np.asarray(regions_norm, dtype=np.float64)
    h, w = tile_hw
    scale = np.array([w, h, w, h], dtype=np.float64) - 1
    return np.rint((r + 1) * scale / 2).astype(np.int64)


def clamp_gaussians(g: Array) -> Array:
    """Copy of ``g [..., >=5]`` with sigma in [1e-5, 1-1e-5] and |rho| <= 1-1e-5 (NaN-free inputs)."""
    out = g.clone() if isinstance(g, torch.Tensor) else np.array(g, copy=True)
    out[..., SX:SY + 1] = out[..., SX:SY + 1].clip(SIGMA_MIN, SIGMA_MAX)
    out[..., RHO] = out[..., RHO].clip(-RHO_MAX, RHO_MAX)
    return out


FEATURE_LIMIT = 1e6


def check_gaussians(g: np.ndarray | torch.Tensor, what: str = "tokens", max_abs: float | None = None) -> None:
    """Raise a one-line GPSTokenError unless ``g [..., >=5]`` is finite with sigma > 0, |rho| < 1 and, with
    ``max_abs`` (files from elsewhere: FEATURE_LIMIT, as larger values overflow float32 in the renderer's
    squares), every value within +-max_abs."""
    a = g.detach().float().cpu().numpy() if isinstance(g, torch.Tensor) else np.asarray(g)
    if a.shape[-1] < GEOMETRY_CHANNELS:
        raise GPSTokenError(f"{what}: last axis has {a.shape[-1]} channels, need at least 5")
    flat = a.reshape(-1, a.shape[-1])
    bad = ~np.isfinite(flat).all(axis=1)
    if bad.any():
        raise GPSTokenError(f"{what}: token {int(np.argmax(bad))} holds NaN or infinite values")
    huge = (np.abs(flat) > max_abs).any(axis=1) if max_abs is not None else np.zeros(len(flat), bool)
    if huge.any():
        raise GPSTokenError(f"{what}: token {int(np.argmax(huge))} holds values beyond +-{max_abs:g}")
    for name, mask in (
        ("sigma must be > 0", (flat[:, SX] <= 0) | (flat[:, SY] <= 0)),
        ("|rho| must be < 1", np.abs(flat[:, RHO]) >= 1),
    ):
        if mask.any():
            i = int(np.argmax(mask))
            raise GPSTokenError(f"{what}: token {i} is out of range ({name}): {flat[i, :5].tolist()}")


# --- pixel ellipses -----------------------------------------------------------------------------


def gaussians_to_ellipses(g: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Gaussians ``[..., >=5]`` on a plane of ``size_hw`` pixels -> ellipses ``[..., 5]``.

    An ellipse is ``(cx, cy, a, b, theta)``: centre in pixels, 1-sigma semi-axes a >= b in pixels,
    and the angle of the major axis from +x towards +y (image rows grow down), in [-pi/2, pi/2).
    """
    g = np.asarray(g, dtype=np.float64)
    h, w = size_hw
    sx = g[..., SX] * (w - 1) / 2
    sy = g[..., SY] * (h - 1) / 2
    rho = g[..., RHO]
    p, r, q = sx * sx, sy * sy, rho * sx * sy
    mean = (p + r) / 2
    half_diff = np.hypot((p - r) / 2, q)
    a = np.sqrt(mean + half_diff)
    b = np.sqrt(np.maximum(mean - half_diff, 0.0))
    theta = _wrap_half_pi(0.5 * np.arctan2(2 * q, p - r))
    cx = norm_to_axis(g[..., MX], w)
    cy = norm_to_axis(g[..., MY], h)
    return np.stack([cx, cy, a, b, theta], axis=-1)


def ellipses_to_gaussians(e: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`gaussians_to_ellipses`; the result is clamped to valid ranges."""
    e = np.asarray(e, dtype=np.float64)
    h, w = size_hw
    a, b, theta = e[..., 2], e[..., 3], e[..., 4]
    c, s = np.cos(theta), np.sin(theta)
    p = a * a * c * c + b * b * s * s
    r = a * a * s * s + b * b * c * c
    q = (a * a - b * b) * c * s
    sx = np.sqrt(p)
    sy = np.sqrt(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(sx * sy > 0, q / (sx * sy), 0.0)
    g = np.stack(
        [sx * 2 / (w - 1), sy * 2 / (h - 1), rho, axis_to_norm(e[..., 0], w), axis_to_norm(e[..., 1], h)],
        axis=-1,
    )
    return clamp_gaussians(g)


def _wrap_half_pi(theta: np.ndarray) -> np.ndarray:
    return (theta + np.pi / 2) % np.pi - np.pi / 2


# --- tiles (high resolution) --------------------------------------------------------------------


def _tile_offsets(tile_grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    i, j = tile_positions(tile_grid)
    return i.astype(np.float64), j.astype(np.float64)


def merge_tiles(tokens: Array, tile_grid: tuple[int, int]) -> Array:
    """Per-tile tokens ``[B*T, N, D]`` in (image, row, col) order -> one set ``[B, T*N, D]``.

    The official ``adjust_gpstoken`` generalised to ``rows x cols`` tiles, with the tile of item k
    taken as ``k mod T`` (the official code's batch-order bug for B > 1 is fixed).
    """
    rows, cols = tile_grid
    t = rows * cols
    if tokens.shape[0] % t:
        raise GPSTokenError(f"{tokens.shape[0]} token sets do not fill whole images of {rows}x{cols} tiles")
    b, n = tokens.shape[0] // t, tokens.shape[1]
    i, j = _tile_offsets(tile_grid)
    out = tokens.clone() if isinstance(tokens, torch.Tensor) else np.array(tokens, copy=True)
    i, j = _like(i, tokens)[:, None], _like(j, tokens)[:, None]
    i, j = _repeat_images(i, b), _repeat_images(j, b)
    out[..., SX] = tokens[..., SX] / cols
    out[..., SY] = tokens[..., SY] / rows
    out[..., MX] = -1 + (2 * j + tokens[..., MX] + 1) / cols
    out[..., MY] = -1 + (2 * i + tokens[..., MY] + 1) / rows
    return out.reshape(b, t * n, tokens.shape[-1])


def split_tiles(tokens: Array, tile_grid: tuple[int, int]) -> Array:
    """Inverse of :func:`merge_tiles`: ``[B, T*N, D]`` -> tile-local ``[B*T, N, D]``."""
    rows, cols = tile_grid
    t = rows * cols
    b = tokens.shape[0]
    if tokens.shape[1] % t:
        raise GPSTokenError(f"{tokens.shape[1]} tokens do not split evenly into {t} tiles")
    local = tokens.reshape(b * t, tokens.shape[1] // t, tokens.shape[-1])
    out = local.clone() if isinstance(local, torch.Tensor) else np.array(local, copy=True)
    i, j = _tile_offsets(tile_grid)
    i, j = _repeat_images(_like(i, tokens)[:, None], b), _repeat_images(_like(j, tokens)[:, None], b)
    out[..., SX] = local[..., SX] * cols
    out[..., SY] = local[..., SY] * rows
    out[..., MX] = (local[..., MX] + 1) * cols - 2 * j - 1
    out[..., MY] = (local[..., MY] + 1) * rows - 2 * i - 1
    return out


def _like(values: np.ndarray, ref: Array) -> Array:
    if isinstance(ref, torch.Tensor):
        return torch.as_tensor(values, dtype=ref.dtype, device=ref.device)
    return values.astype(ref.dtype)


def _repeat_images(x: Array, b: int) -> Array:
    return x.repeat(b, 1) if isinstance(x, torch.Tensor) else np.tile(x, (b, 1))
