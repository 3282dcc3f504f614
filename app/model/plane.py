"""The plane the tokens of one image live on, and pixel-space geometry on it.

Tokens are stored merged over the plane (``gpstoken.tokens.merge_tiles`` convention), exactly as
``gpstoken.fit`` optimises them: the plane is the canvas of the image's ``gpstoken.tiling.Tiling``
("whole" small-image policy): the image when it fits one tile, else the image edge-padded to whole
tiles. Pixel coordinates are plane pixels: (x, y) = (column, row), pixel centres at integers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpstoken.fit_init import fit_tiling
from gpstoken.tiling import Tiling
from gpstoken.tokens import (MX, MY, RHO, SX, SY, clamp_gaussians, g_init_from_regions, gaussians_to_ellipses,
                             merge_tiles)

ELLIPSE_SIGMAS = 1.5  # ellipses are drawn and picked at 1.5 sigma: a g_init ellipse fills its region


@dataclass(frozen=True)
class Plane:
    """The image's tiling and pixel geometry on its merged plane (the tiling's canvas)."""

    tiling: Tiling

    @classmethod
    def for_image(cls, image_size: tuple[int, int], tile: int = 256) -> "Plane":
        """The plane ``gpstoken.fit`` uses for an image of ``image_size``."""
        return cls(fit_tiling(tuple(image_size), tile))

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the image."""
        return self.tiling.image_size

    @property
    def tile(self) -> int:
        """Tile side in pixels; 0: one tile normalised to the image itself."""
        return self.tiling.tile

    @property
    def tile_grid(self) -> tuple[int, int]:
        """(rows, cols) of tiles."""
        return self.tiling.tile_grid

    @property
    def num_tiles(self) -> int:
        return self.tiling.num_tiles

    @property
    def tile_hw(self) -> tuple[int, int]:
        return self.tiling.tile_hw

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the plane in pixels."""
        return self.tiling.canvas_size

    # --- conversions ----------------------------------------------------------------------------

    def ellipses(self, geometry: np.ndarray) -> np.ndarray:
        """Gaussians ``[M, >=5]`` -> 1-sigma pixel ellipses ``[M, 5]`` (cx, cy, a, b, theta)."""
        return gaussians_to_ellipses(geometry, self.size)

    def drawn_ellipses(self, geometry: np.ndarray) -> np.ndarray:
        """Gaussians -> the ellipses the views draw and pick (``ELLIPSE_SIGMAS`` semi-axes), in plane pixels."""
        e = self.ellipses(geometry)
        e[:, 2:4] *= ELLIPSE_SIGMAS
        return e

    def centers(self, geometry: np.ndarray) -> np.ndarray:
        """Gaussian centres ``[M, 2]`` in plane pixels (x, y)."""
        h, w = self.size
        g = np.asarray(geometry, dtype=np.float64)
        return np.stack([(g[:, MX] + 1) * (w - 1) / 2, (g[:, MY] + 1) * (h - 1) / 2], axis=1)

    def sigmas_px(self, geometry: np.ndarray) -> np.ndarray:
        """Per-axis sigmas ``[M, 2]`` in pixels (x, y)."""
        h, w = self.size
        g = np.asarray(geometry, dtype=np.float64)
        return np.stack([g[:, SX] * (w - 1) / 2, g[:, SY] * (h - 1) / 2], axis=1)

    def translate(self, geometry: np.ndarray, delta_px: np.ndarray) -> np.ndarray:
        """Copy of ``geometry`` moved by ``delta_px`` (dx, dy) pixels; centres stay inside the plane."""
        h, w = self.size
        g = np.array(geometry, dtype=np.float32, copy=True)
        g[:, MX] = np.clip(g[:, MX] + 2 * float(delta_px[0]) / (w - 1), -1, 1)
        g[:, MY] = np.clip(g[:, MY] + 2 * float(delta_px[1]) / (h - 1), -1, 1)
        return g

    def gaussian(self, center_px: np.ndarray, sigma_px: np.ndarray, rho: float = 0.0) -> np.ndarray:
        """One Gaussian ``[5]`` from a pixel centre (x, y), pixel sigmas (x, y) and rho, clamped."""
        h, w = self.size
        g = np.array([
            2 * sigma_px[0] / (w - 1), 2 * sigma_px[1] / (h - 1), rho,
            2 * center_px[0] / (w - 1) - 1, 2 * center_px[1] / (h - 1) - 1,
        ], dtype=np.float64)
        g[3:5] = np.clip(g[3:5], -1, 1)
        return clamp_gaussians(g).astype(np.float32)

    def gaussian_for_box(self, box: np.ndarray) -> np.ndarray:
        """The g_init a region ``(x0, y0, x1, y1)`` (inclusive) gets: centre, sigma = (side - 1) / 3."""
        x0, y0, x1, y1 = (float(v) for v in box)
        side = np.maximum([x1 - x0, y1 - y0], 1.0)
        return self.gaussian(np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side / 3)

    def g_init(self, regions: np.ndarray) -> np.ndarray:
        """The reference's g_init ``[K, 5]`` of plane-pixel regions ``[K, 4]`` (inclusive), each normalised in
        the tile holding its centre and merged over the plane exactly as a partition's g_init is."""
        r = np.asarray(regions, dtype=np.int64).reshape(-1, 4)
        tiles = self.tile_of(np.stack([(r[:, 0] + r[:, 2]) / 2, (r[:, 1] + r[:, 3]) / 2], axis=1))
        g = g_init_from_regions(r - self.tiling.box_offsets()[tiles], self.tile_hw)
        k = len(r)
        # merge_tiles's arithmetic even for one tile: LayoutSource merges a partition's g_init the same way
        merged = merge_tiles(np.broadcast_to(g, (self.num_tiles, k, 5)), self.tile_grid)[0]
        return merged.reshape(self.num_tiles, k, 5)[tiles, np.arange(k)]

    def boxes(self, geometry: np.ndarray) -> np.ndarray:
        """Pixel boxes ``[M, 4]`` (inclusive) that the 1.5-sigma axis extents of Gaussians cover."""
        c = self.centers(geometry)
        half = ELLIPSE_SIGMAS * self.sigmas_px(geometry)
        h, w = self.size
        lo = np.clip(np.rint(c - half), 0, [w - 1, h - 1])
        hi = np.clip(np.rint(c + half), 0, [w - 1, h - 1])
        return np.concatenate([lo, hi], axis=1).astype(np.int32)

    def tile_of(self, center_px: np.ndarray) -> np.ndarray:
        """Row-major tile index of pixel positions ``[M, 2]``."""
        return self.tiling.tile_of(center_px)


def mahalanobis(geometry: np.ndarray, point_px: np.ndarray, plane: Plane) -> np.ndarray:
    """Distance ``[M]`` of one pixel point from each Gaussian, in sigmas."""
    g = np.asarray(geometry, dtype=np.float64)
    d = np.asarray(point_px, dtype=np.float64)[None, :] - plane.centers(g)
    s = np.maximum(plane.sigmas_px(g), 1e-9)
    u, v = d[:, 0] / s[:, 0], d[:, 1] / s[:, 1]
    rho = np.clip(g[:, RHO], -0.999999, 0.999999)
    q = (u * u - 2 * rho * u * v + v * v) / (1 - rho * rho)
    return np.sqrt(np.maximum(q, 0))
