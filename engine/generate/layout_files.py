"""Layouts and keep masks from files, for generation: token files (.npz), raw arrays (.npy), mask images."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..calibrate import calibrate
from ..errors import GPSTokenError
from ..io.arrays import load_npy
from ..io.tokenfile import TokenSet
from ..partition import Partition
from ..tiling import Tiling


def load_layout(path: str | os.PathLike, tile: int = 256, min_size: int = 8) -> Partition:
    """A layout from a token file (its ``g_init``, any tiling) or a ``.npy`` array ``[N,>=5]`` /
    ``[1,N,>=5]`` of one tile, calibrated per tile into a valid partition with the same token count
    (a valid partition keeps its regions; a predicted or hand-made one is repaired)."""
    g, grid, size = load_sketch(path, tile)
    cal = calibrate(g[..., :5], tokens=int(g.shape[1]), size=(tile, tile), min_size=min_size)
    return partition_of_tiles(cal.regions, cal.g_init, grid, size, tile)


def load_sketch(path: str | os.PathLike, tile: int = 256) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The Gaussians ``[T,K,>=5]`` of a token file (its ``g_init``) or a ``.npy`` array ``[K,>=5]`` /
    ``[1,K,>=5]`` of one tile, with the tile grid and image size they cover."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        try:
            g = np.load(p, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise GPSTokenError(f"{p.name}: not a readable .npy array ({type(exc).__name__})") from None
        g = g[None] if g.ndim == 2 else g
        if g.ndim != 3 or g.shape[0] != 1 or g.shape[-1] < 5:
            raise GPSTokenError(f"{p.name}: a layout array must be [N,5] (one tile), got {list(np.shape(g))}")
        return g, (1, 1), (tile, tile)
    ts = TokenSet.load(p)
    if ts.tile not in (0, tile) or (ts.tile == 0 and tuple(ts.image_size) != (tile, tile)):
        raise GPSTokenError(f"{p.name}: its tiles are not {tile}x{tile} px, which the generators need")
    return ts.g_init, ts.tile_grid, ts.image_size


def partition_of_tiles(regions: np.ndarray, g_init: np.ndarray, tile_grid: tuple[int, int],
                       image_size: tuple[int, int], tile: int) -> Partition:
    """A Partition from tile-local ``regions [T,N,4]`` and ``g_init [T,N,5]`` of a ``tile_grid``."""
    tiling = Tiling(image_size, tile)
    tiling.check_grid(tile_grid)
    t, n = g_init.shape[:2]
    return Partition(tiling.to_canvas(regions), np.asarray(g_init, dtype=np.float32).reshape(t * n, 5), tiling, n)


def load_keep_mask(path: str | os.PathLike, layout: Partition) -> np.ndarray:
    """Which tokens to keep, bool ``[T,N]``: a ``.npy`` of ``[T,N]``, ``[T*N]`` (or ``[N]`` for one
    tile), or an image where tokens whose region centre falls on a non-zero pixel are kept."""
    p = Path(path)
    t, n = layout.tiling.num_tiles, layout.tokens_per_tile
    if p.suffix.lower() == ".npy":
        m = load_npy(p)
        if m.size != t * n:
            raise GPSTokenError(f"{p.name}: the keep mask has {m.size} entries; the layout has {t}x{n} tokens")
        return np.asarray(m).reshape(t, n).astype(bool)
    from ..io.images import load_image

    image = load_image(p)
    h, w = image.shape[:2]
    if (h, w) != tuple(layout.image_size):
        raise GPSTokenError(f"{p.name}: the mask image is {w}x{h}; the layout is for {layout.image_size[1]}x"
                            f"{layout.image_size[0]}")
    r = layout.regions
    cx = np.clip((r[:, 0] + r[:, 2]) // 2, 0, w - 1)
    cy = np.clip((r[:, 1] + r[:, 3]) // 2, 0, h - 1)
    return (image.max(axis=2)[cy, cx] > 0).reshape(t, n)
