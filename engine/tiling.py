"""How an image is cut into tiles: the one place that computes the tile grid, the canvas and tile origins.

With a tile side ``tile > 0`` an ``H x W`` image is cut into ``ceil(H/tile) x ceil(W/tile)`` tiles in row-major
order; the canvas is the image edge-padded at the bottom and right to whole tiles. ``tile == 0`` makes the whole
image one tile of its own shape (no padding). Tokens are stored per tile, normalised to their tile, and merged
over the canvas with :meth:`Tiling.merge_tiles` (``gpstoken.tokens.merge_tiles``).

Images no larger than a tile (both sides ``<= tile``) follow one of two named policies (:data:`SMALL_IMAGES`),
chosen where a tiling is made (:meth:`Tiling.for_image`):

- ``"pad"``: one ``tile x tile`` tile holding the image edge-padded into it. The tokenizer models need their
  tile size, so ``gpstoken partition``/``reconstruct`` and the model engine use it.
- ``"whole"``: the image is its own single tile, recorded as ``tile=0`` (or ``tile`` when the image is exactly
  ``tile x tile``, as the reference records it). Per-image fitting and the editor's plane use it: nothing is
  fitted to padding. The model engine moves tokens between the two with ``gpstoken.tokens.reframe``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import GPSTokenError

SMALL_IMAGES = ("pad", "whole")


@dataclass(frozen=True)
class Tiling:
    """The tiles of an ``image_size = (H, W)`` image; ``tile`` is the tile side in pixels, 0 for one whole tile."""

    image_size: tuple[int, int]
    tile: int

    def __post_init__(self) -> None:
        size = tuple(self.image_size)
        if len(size) != 2 or not all(_is_int(v) and v >= 1 for v in size):
            raise GPSTokenError(f"image size must be two positive integers (H, W), got {self.image_size!r}")
        if not _is_int(self.tile) or self.tile < 0:
            raise GPSTokenError(f"tile must be an integer >= 0 (0 = whole image), got {self.tile!r}")
        object.__setattr__(self, "image_size", (int(size[0]), int(size[1])))
        object.__setattr__(self, "tile", int(self.tile))

    @classmethod
    def for_image(cls, image_size: tuple[int, int], tile: int, small: str) -> "Tiling":
        """The tiling of an image in ``tile``-px tiles, an image no larger than a tile following policy ``small``."""
        if small not in SMALL_IMAGES:
            raise GPSTokenError(f"small-image policy must be one of {SMALL_IMAGES}, got {small!r}")
        tiling = cls(image_size, tile)
        h, w = tiling.image_size
        if small == "whole" and tiling.tile > 0 and h <= tiling.tile and w <= tiling.tile and (h, w) != (tile, tile):
            return cls((h, w), 0)
        return tiling

    @property
    def tile_hw(self) -> tuple[int, int]:
        """(height, width) of one tile in pixels."""
        return self.image_size if self.tile == 0 else (self.tile, self.tile)

    @property
    def tile_grid(self) -> tuple[int, int]:
        """(rows, cols) of tiles."""
        (h, w), (th, tw) = self.image_size, self.tile_hw
        return -(-h // th), -(-w // tw)

    @property
    def num_tiles(self) -> int:
        rows, cols = self.tile_grid
        return rows * cols

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(H, W) of the canvas: the image edge-padded to whole tiles."""
        (rows, cols), (th, tw) = self.tile_grid, self.tile_hw
        return rows * th, cols * tw

    def tile_positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column ``[T]`` (int64) of every tile, row-major."""
        return tile_positions(self.tile_grid)

    def box_offsets(self) -> np.ndarray:
        """Canvas pixel offsets ``[T, 4]`` (x, y, x, y), int64, of each tile's top-left pixel, row-major."""
        (i, j), (th, tw) = self.tile_positions(), self.tile_hw
        return np.stack([j * tw, i * th, j * tw, i * th], axis=1)

    def to_canvas(self, local: np.ndarray) -> np.ndarray:
        """Tile-local pixel boxes ``[T, N, 4]`` (x0, y0, x1, y1) -> canvas boxes ``[T*N, 4]`` (int64), tile-major."""
        local = np.asarray(local, dtype=np.int64)
        return (local + self.box_offsets()[:, None, :]).reshape(-1, 4)

    def to_local(self, regions: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_canvas`: canvas boxes ``[T*N, 4]`` (tile-major) -> tile-local ``[T, N, 4]``."""
        r = np.asarray(regions, dtype=np.int64)
        if r.size % (4 * self.num_tiles):
            raise GPSTokenError(f"{len(r)} regions do not split evenly into {self.num_tiles} tiles")
        return r.reshape(self.num_tiles, -1, 4) - self.box_offsets()[:, None, :]

    def tile_of(self, points_xy: np.ndarray) -> np.ndarray:
        """Row-major tile index ``[M]`` (int32) of canvas pixel positions ``[M, 2]`` (x, y); outside: nearest tile."""
        (rows, cols), (th, tw) = self.tile_grid, self.tile_hw
        p = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        j = np.clip(p[:, 0] // tw, 0, cols - 1)
        i = np.clip(p[:, 1] // th, 0, rows - 1)
        return (i * cols + j).astype(np.int32)

    def merge_tiles(self, local: np.ndarray) -> np.ndarray:
        """Tile-local tokens ``[T, N, D]`` -> one float32 set ``[T*N, D]`` over the canvas (a copy, bit-exact for
        one tile)."""
        from .tokens import merge_tiles

        local = np.asarray(local, dtype=np.float32)
        self._check_tiles(local.shape[0])
        return np.array(local[0]) if self.num_tiles == 1 else merge_tiles(local, self.tile_grid)[0]

    def split_tiles(self, merged: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`merge_tiles`: ``[T*N, D]`` -> tile-local float32 ``[T, N, D]``."""
        from .tokens import split_tiles

        merged = np.asarray(merged, dtype=np.float32)
        return np.array(merged[None]) if self.num_tiles == 1 else split_tiles(merged[None], self.tile_grid)

    def pad_to_canvas(self, image: np.ndarray) -> np.ndarray:
        """``image [H, W, ...]`` edge-padded at the bottom and right to the canvas (the array itself if it fits)."""
        (h, w), (ch, cw) = self.image_size, self.canvas_size
        if (ch, cw) == (h, w):
            return image
        return np.pad(image, ((0, ch - h), (0, cw - w)) + ((0, 0),) * (image.ndim - 2), mode="edge")

    def check_grid(self, tile_grid: tuple[int, int]) -> None:
        """One-line error unless ``tile_grid`` is this tiling's grid (a stored grid read back from a file)."""
        if tuple(tile_grid) != self.tile_grid:
            (h, w), rows_cols = self.image_size, "x".join(str(v) for v in self.tile_grid)
            tiles = "one whole tile" if self.tile == 0 else f"{self.tile}-px tiles"
            raise GPSTokenError(f"tile grid {tuple(tile_grid)} does not cover a {w}x{h} image in {tiles} exactly "
                                f"(that takes {rows_cols})")

    def _check_tiles(self, count: int) -> None:
        if count != self.num_tiles:
            raise GPSTokenError(f"got tokens of {count} tiles for a {self.tile_grid[0]}x{self.tile_grid[1]} grid")


def tile_positions(tile_grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column ``[rows*cols]`` (int64) of every tile of a ``tile_grid``, row-major."""
    rows, cols = tile_grid
    return np.divmod(np.arange(rows * cols, dtype=np.int64), cols)


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
