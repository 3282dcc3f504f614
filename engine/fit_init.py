"""Initial layouts for per-image fitting: the adaptive partition, a uniform grid, or a token file.

Tiling (decided here, used by :mod:`gpstoken.fit`):
- an image whose sides are both <= ``tile`` is one tile normalised to the image itself (its token
  file says ``tile=0``, or ``tile`` when the image is exactly ``tile x tile``, the reference case);
- a larger image is cut into ``tile``-px tiles, edge-padded at the bottom/right to whole tiles as the
  partition does; ``tile=0`` makes any image one tile.
A layout's ``regions`` are canvas pixels (inclusive ends, tile-major) and its ``g_init`` is
tile-local ``[T, N, 5]``, exactly as the token file stores it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Union

import numpy as np

from .errors import GPSTokenError
from .io.tokenfile import TokenSet
from .tokens import check_gaussians, g_init_from_regions, merge_tiles, normalize_regions, regions_to_pixels, split_tiles

MIN_GRID_CELL = 2  # a 1-px cell would give sigma = 0
DEFAULT_MIN_SIZE = 8  # the reference's smallest region side


@dataclass(frozen=True)
class Layout:
    """Where the tokens start: regions, their g_init, the tiling and optional start tokens."""

    regions: np.ndarray  # int64 [T*N, 4] canvas pixels (x0, y0, x1, y1), inclusive, tile-major
    g_init: np.ndarray  # float32 [T, N, 5] tile-local official normalisation
    tile_grid: tuple[int, int]
    tile: int  # 0: one tile normalised to the image
    image_size: tuple[int, int]  # (H, W)
    tokens: np.ndarray | None = None  # tile-local [T, N, 5+C] start tokens (from a token file)
    features: str = "rgb"  # what ``tokens[..., 5:]`` hold

    def __post_init__(self) -> None:
        object.__setattr__(self, "tile_grid", tuple(int(v) for v in self.tile_grid))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        tiles = self.tile_grid[0] * self.tile_grid[1]
        g = self.g_init
        if g.ndim != 3 or g.shape[0] != tiles or g.shape[2] != 5 or g.shape[1] < 1:
            raise GPSTokenError(
                f"layout g_init must be [{tiles}, N, 5] for {self.tile_grid} tiles, got {list(g.shape)}")
        if self.regions.shape != (tiles * g.shape[1], 4):
            raise GPSTokenError(f"layout regions must be [{tiles * g.shape[1]}, 4], got {list(self.regions.shape)}")
        if self.tokens is not None and (self.tokens.ndim != 3 or self.tokens.shape[:2] != g.shape[:2]
                                        or self.tokens.shape[2] < 5):
            raise GPSTokenError(f"layout tokens must be {list(g.shape[:2])}+[5+C], got {list(self.tokens.shape)}")
        check_gaussians(g, "g_init")
        if self.tokens is not None:
            check_gaussians(self.tokens, "start tokens")

    @property
    def tokens_per_tile(self) -> int:
        return int(self.g_init.shape[1])

    @property
    def num_tokens(self) -> int:
        return int(self.g_init.shape[0] * self.g_init.shape[1])

    @property
    def tile_hw(self) -> tuple[int, int]:
        """Pixel size of one tile (the image itself when ``tile`` is 0)."""
        return self.image_size if self.tile == 0 else (self.tile, self.tile)

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(H, W) of the plane the merged tokens live on: the image, or the padded tiles."""
        th, tw = self.tile_hw
        return self.tile_grid[0] * th, self.tile_grid[1] * tw

    def merge(self, local: np.ndarray) -> np.ndarray:
        """Tile-local ``[T, N, D]`` -> one set ``[T*N, D]`` over the canvas (bit-exact for one tile)."""
        if self.tile_grid == (1, 1):
            return np.array(local[0], dtype=np.float32)
        return merge_tiles(np.asarray(local, dtype=np.float32), self.tile_grid)[0]

    def split(self, merged: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`merge`: ``[T*N, D]`` -> tile-local ``[T, N, D]``."""
        if self.tile_grid == (1, 1):
            return np.array(merged[None], dtype=np.float32)
        return split_tiles(np.asarray(merged, dtype=np.float32)[None], self.tile_grid)

    def token_set(self, tokens: np.ndarray | None = None, features: str = "rgb") -> TokenSet:
        """The token file of this layout, with tile-local ``tokens [T, N, 5+C]`` if given."""
        offsets = _tile_offsets(self.tile_hw, self.tile_grid)[:, None, :]
        local = self.regions.reshape(self.g_init.shape[:2] + (4,)) - offsets
        return TokenSet(
            g_init=self.g_init,
            regions=normalize_regions(local, self.tile_hw),
            tile_grid=self.tile_grid,
            image_size=self.image_size,
            tokens=tokens,
            tile=self.tile,
            features=features,
        )


InitSpec = Union[str, os.PathLike, TokenSet, Layout]


def tiling(image_size: tuple[int, int], tile: int) -> tuple[int, tuple[int, int]]:
    """(tile to record, (rows, cols)) for an image: see the module docstring."""
    h, w = image_size
    if tile < 0:
        raise GPSTokenError(f"tile must be >= 0, got {tile}")
    if tile == 0 or (h <= tile and w <= tile):
        return (tile if (h, w) == (tile, tile) else 0), (1, 1)
    return tile, (math.ceil(h / tile), math.ceil(w / tile))


def adaptive_layout(
    image: np.ndarray,
    tokens_per_tile: int,
    *,
    tile: int = 256,
    lam: float = 2.5,
    min_size: int | None = None,
    bias: np.ndarray | None = None,
) -> Layout:
    """The entropy partition of the image (``gpstoken.partition``) as a layout.

    ``min_size=None``: :func:`auto_min_size` (8 up to 512 tokens on a 256-px tile, 4 up to 2048,
    then 2); an explicit value is used as is.
    """
    from .partition import partition

    _check_count(tokens_per_tile)
    tile_rec, grid = tiling(image.shape[:2], tile)
    if min_size is None:
        min_size = auto_min_size(image.shape[:2] if tile_rec == 0 else (tile_rec, tile_rec), tokens_per_tile)
    p = partition(image, tokens_per_tile, lam=lam, min_size=min_size, tile=tile_rec, bias=bias)
    n = p.g_init.shape[0] // (grid[0] * grid[1])
    return Layout(
        regions=np.asarray(p.regions, dtype=np.int64),
        g_init=np.asarray(p.g_init, dtype=np.float32).reshape(-1, n, 5),
        tile_grid=tuple(p.tile_grid),
        tile=tile_rec,
        image_size=tuple(image.shape[:2]),
    )


def auto_min_size(tile_hw: tuple[int, int], tokens_per_tile: int) -> int:
    """The reference's 8 while a tile can hold twice the token count, else the largest of 4, 2, 1 that can.

    The headroom matters: at exactly the maximum every region has the minimum size and the
    "adaptive" partition degenerates into a uniform grid (1024 tokens at min_size 8 on 256 px).
    Without room for twice the count, the largest size that holds the count at all is used.
    """
    from .partition import max_regions

    for need in (2 * tokens_per_tile, tokens_per_tile):
        for size in (DEFAULT_MIN_SIZE, 4, 2):
            if max_regions(tile_hw[0], tile_hw[1], size) >= need:
                return size
    return 1


def grid_layout(image_size: tuple[int, int], tokens_per_tile: int, *, tile: int = 256) -> Layout:
    """Exactly ``tokens_per_tile`` near-square cells per tile, in rows of equal height.

    Rows = round(sqrt(N * h / w)); the N cells are spread over the rows (some rows hold one cell
    more), and the cell edges are rounded evenly spaced pixel positions.
    """
    _check_count(tokens_per_tile)
    tile_rec, grid = tiling(image_size, tile)
    th, tw = image_size if tile_rec == 0 else (tile_rec, tile_rec)
    limit = (th // MIN_GRID_CELL) * (tw // MIN_GRID_CELL)
    if tokens_per_tile > limit:
        raise GPSTokenError(
            f"{tokens_per_tile} grid tokens do not fit a {tw}x{th} tile (at most {limit}: cells of {MIN_GRID_CELL} px)"
        )
    local = _grid_cells(th, tw, tokens_per_tile)
    tiles = grid[0] * grid[1]
    regions = (local[None] + _tile_offsets((th, tw), grid)[:, None, :]).reshape(-1, 4)
    g = np.broadcast_to(g_init_from_regions(local, (th, tw)), (tiles, tokens_per_tile, 5)).copy()
    return Layout(regions=regions, g_init=g, tile_grid=grid, tile=tile_rec, image_size=tuple(image_size))


def layout_from_token_set(ts: TokenSet, image_size: tuple[int, int]) -> Layout:
    """The layout (and start tokens) stored in a token file, checked against the image size."""
    if tuple(ts.image_size) != tuple(image_size):
        raise GPSTokenError(
            f"the token file is for a {ts.image_size[1]}x{ts.image_size[0]} image, not {image_size[1]}x{image_size[0]}"
        )
    tile_hw = ts.image_size if ts.tile == 0 else (ts.tile, ts.tile)
    regions = regions_to_pixels(ts.regions, tile_hw) + _tile_offsets(tile_hw, ts.tile_grid)[:, None, :]
    return Layout(
        regions=regions.reshape(-1, 4),
        g_init=ts.g_init.astype(np.float32),
        tile_grid=ts.tile_grid,
        tile=ts.tile,
        image_size=ts.image_size,
        tokens=ts.tokens,
        features=ts.features,
    )


def make_layout(
    image: np.ndarray,
    init: InitSpec,
    tokens_per_tile: int | None,
    *,
    tile: int = 256,
    lam: float = 2.5,
    min_size: int | None = None,
    bias: np.ndarray | None = None,
) -> Layout:
    """Resolve ``init`` ("adaptive", "grid", a token file path, a TokenSet or a Layout) to a layout."""
    size = tuple(image.shape[:2])
    if isinstance(init, Layout):
        layout = init
        if layout.image_size != size:
            raise GPSTokenError(f"the layout is for a {layout.image_size} image, not {size}")
    elif isinstance(init, TokenSet):
        layout = layout_from_token_set(init, size)
    elif init == "adaptive":
        if tokens_per_tile is None:
            raise GPSTokenError("an adaptive layout needs a token count")
        return adaptive_layout(image, tokens_per_tile, tile=tile, lam=lam, min_size=min_size, bias=bias)
    elif init == "grid":
        if tokens_per_tile is None:
            raise GPSTokenError("a grid layout needs a token count")
        return grid_layout(size, tokens_per_tile, tile=tile)
    elif isinstance(init, (str, os.PathLike)) and str(init).lower().endswith(".npz"):
        layout = layout_from_token_set(TokenSet.load(init), size)
    else:
        raise GPSTokenError(f"init must be 'adaptive', 'grid' or a token file (.npz), got {init!r}")
    if tokens_per_tile is not None and tokens_per_tile != layout.tokens_per_tile:
        raise GPSTokenError(
            f"the given layout has {layout.tokens_per_tile} tokens per tile, not the requested {tokens_per_tile}"
        )
    return layout


def _grid_cells(h: int, w: int, n: int) -> np.ndarray:
    rows = int(np.clip(round(math.sqrt(n * h / w)), 1, min(n, h // MIN_GRID_CELL)))
    while math.ceil(n / rows) > w // MIN_GRID_CELL:
        rows += 1
    counts = np.full(rows, n // rows)
    counts[: n % rows] += 1  # the first rows take the remainder
    y_edges = np.rint(np.linspace(0, h, rows + 1)).astype(np.int64)
    cells = []
    for r, c in enumerate(counts):
        x_edges = np.rint(np.linspace(0, w, c + 1)).astype(np.int64)
        for k in range(c):
            cells.append((x_edges[k], y_edges[r], x_edges[k + 1] - 1, y_edges[r + 1] - 1))
    return np.asarray(cells, dtype=np.int64)


def _tile_offsets(tile_hw: tuple[int, int], tile_grid: tuple[int, int]) -> np.ndarray:
    th, tw = tile_hw
    rows, cols = tile_grid
    i, j = np.divmod(np.arange(rows * cols), cols)
    return np.stack([j * tw, i * th, j * tw, i * th], axis=1).astype(np.int64)


def _check_count(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise GPSTokenError(f"the token count must be a positive integer, got {n!r}")
