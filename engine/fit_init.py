"""Initial layouts for per-image fitting: the adaptive partition, a uniform grid, or a token file.

Tiling (:class:`gpstoken.tiling.Tiling` with the "whole" small-image policy, used by :mod:`gpstoken.fit`):
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
from .tiling import Tiling
from .tokens import check_gaussians, g_init_from_regions, normalize_regions, regions_to_pixels

MIN_GRID_CELL = 2  # a 1-px cell would give sigma = 0
DEFAULT_MIN_SIZE = 8  # the reference's smallest region side


@dataclass(frozen=True)
class Layout:
    """Where the tokens start: regions, their g_init, the tiling and optional start tokens."""

    regions: np.ndarray  # int64 [T*N, 4] canvas pixels (x0, y0, x1, y1), inclusive, tile-major
    g_init: np.ndarray  # float32 [T, N, 5] tile-local official normalisation
    tiling: Tiling  # image size and tile side (0: one tile normalised to the image)
    tokens: np.ndarray | None = None  # tile-local [T, N, 5+C] start tokens (from a token file)
    features: str = "rgb"  # what ``tokens[..., 5:]`` hold

    def __post_init__(self) -> None:
        tiles = self.tiling.num_tiles
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
    def tile_grid(self) -> tuple[int, int]:
        return self.tiling.tile_grid

    @property
    def tile(self) -> int:
        return self.tiling.tile

    @property
    def image_size(self) -> tuple[int, int]:
        return self.tiling.image_size

    @property
    def tokens_per_tile(self) -> int:
        return int(self.g_init.shape[1])

    @property
    def num_tokens(self) -> int:
        return int(self.g_init.shape[0] * self.g_init.shape[1])

    @property
    def tile_hw(self) -> tuple[int, int]:
        """Pixel size of one tile (the image itself when ``tile`` is 0)."""
        return self.tiling.tile_hw

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(H, W) of the plane the merged tokens live on: the image, or the padded tiles."""
        return self.tiling.canvas_size

    def merge(self, local: np.ndarray) -> np.ndarray:
        """Tile-local ``[T, N, D]`` -> one set ``[T*N, D]`` over the canvas (bit-exact for one tile)."""
        return self.tiling.merge_tiles(local)

    def split(self, merged: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`merge`: ``[T*N, D]`` -> tile-local ``[T, N, D]``."""
        return self.tiling.split_tiles(merged)

    def token_set(self, tokens: np.ndarray | None = None, features: str = "rgb") -> TokenSet:
        """The token file of this layout, with tile-local ``tokens [T, N, 5+C]`` if given."""
        return TokenSet(
            g_init=self.g_init,
            regions=normalize_regions(self.tiling.to_local(self.regions), self.tile_hw),
            tile_grid=self.tile_grid,
            image_size=self.image_size,
            tokens=tokens,
            tile=self.tile,
            features=features,
        )


InitSpec = Union[str, os.PathLike, TokenSet, Layout]


def fit_tiling(image_size: tuple[int, int], tile: int) -> Tiling:
    """The tiling of an image for fitting: ``tile``-px tiles, an image no larger than a tile is one whole tile."""
    return Tiling.for_image(image_size, tile, small="whole")


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
    tiling = fit_tiling(image.shape[:2], tile)
    if min_size is None:
        min_size = auto_min_size(tiling.tile_hw, tokens_per_tile)
    p = partition(image, tokens_per_tile, lam=lam, min_size=min_size, tile=tiling.tile, bias=bias)
    return Layout(
        regions=np.asarray(p.regions, dtype=np.int64),
        g_init=np.asarray(p.g_init, dtype=np.float32).reshape(tiling.num_tiles, -1, 5),
        tiling=tiling,
    )


def auto_min_size(tile_hw: tuple[int, int], tokens_per_tile: int) -> int:
    """The reference's 8 while a tile can hold twice the token count, else the largest of 4, 2, 1 that can.

    The headroom matters: at exactly the maximum every region has the minimum size and the
    "adaptive" partition degenerates into a uniform grid (1024 tokens at min_size 8 on 256 px).
    Without room for twice the count, the largest size that holds the count at all is used.
    """
    from .partition import max_partition_regions

    for need in (2 * tokens_per_tile, tokens_per_tile):
        for size in (DEFAULT_MIN_SIZE, 4, 2):
            if max_partition_regions(tile_hw[0], tile_hw[1], size) >= need:
                return size
    return 1


def grid_layout(image_size: tuple[int, int], tokens_per_tile: int, *, tile: int = 256) -> Layout:
    """Exactly ``tokens_per_tile`` near-square cells per tile, in rows of equal height.

    Rows = round(sqrt(N * h / w)); the N cells are spread over the rows (some rows hold one cell
    more), and the cell edges are rounded evenly spaced pixel positions.
    """
    _check_count(tokens_per_tile)
    tiling = fit_tiling(image_size, tile)
    th, tw = tiling.tile_hw
    limit = (th // MIN_GRID_CELL) * (tw // MIN_GRID_CELL)
    if tokens_per_tile > limit:
        raise GPSTokenError(
            f"{tokens_per_tile} grid tokens do not fit a {tw}x{th} tile (at most {limit}: cells of {MIN_GRID_CELL} px)"
        )
    local = np.broadcast_to(_grid_cells(th, tw, tokens_per_tile), (tiling.num_tiles, tokens_per_tile, 4))
    g = g_init_from_regions(local, (th, tw))
    return Layout(regions=tiling.to_canvas(local), g_init=g, tiling=tiling)


def layout_from_token_set(ts: TokenSet, image_size: tuple[int, int]) -> Layout:
    """The layout (and start tokens) stored in a token file, checked against the image size."""
    if tuple(ts.image_size) != tuple(image_size):
        raise GPSTokenError(
            f"the token file is for a {ts.image_size[1]}x{ts.image_size[0]} image, not {image_size[1]}x{image_size[0]}"
        )
    tiling = ts.tiling
    return Layout(
        regions=tiling.to_canvas(regions_to_pixels(ts.regions, tiling.tile_hw)),
        g_init=ts.g_init.astype(np.float32),
        tiling=tiling,
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


def _check_count(n: int) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise GPSTokenError(f"the token count must be a positive integer, got {n!r}")
