"""Cut a batch of maps into a row-major grid of equal tiles and put them back together."""
from __future__ import annotations

import torch


def to_tiles(x: torch.Tensor, tile_grid: tuple[int, int]) -> torch.Tensor:
    """``[B, C, H, W]`` -> ``[B*rows*cols, C, H/rows, W/cols]``, tiles in (image, row, col) order."""
    rows, cols = tile_grid
    if (rows, cols) == (1, 1):
        return x
    b, c, h, w = x.shape
    if h % rows or w % cols:
        raise ValueError(f"a {h}x{w} map does not split into {rows}x{cols} equal tiles")
    x = x.reshape(b, c, rows, h // rows, cols, w // cols).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b * rows * cols, c, h // rows, w // cols)


def from_tiles(x: torch.Tensor, tile_grid: tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`to_tiles`: ``[B*rows*cols, C, h, w]`` -> ``[B, C, rows*h, cols*w]``."""
    rows, cols = tile_grid
    if (rows, cols) == (1, 1):
        return x
    n, c, h, w = x.shape
    if n % (rows * cols):
        raise ValueError(f"{n} tiles do not fill whole {rows}x{cols} grids")
    x = x.reshape(n // (rows * cols), rows, cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(n // (rows * cols), c, rows * h, cols * w)
