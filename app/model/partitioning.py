"""Re-partitioning of one image for the document: cached partitioners, results as LayoutStates."""
from __future__ import annotations

import numpy as np

from gpstoken.tokens import merge_tiles

from .layout import LayoutState
from .plane import Plane


class LayoutSource:
    """Keeps a ``gpstoken.Partitioner`` per lambda, so a new count or bias re-uses cached entropies.

    Not thread-safe, and needs not be: in the editor every re-partition runs on the session's one worker
    (``Pipeline``); scripts call it on their own thread.
    """

    def __init__(self, image: np.ndarray, plane: Plane, min_size: int = 8) -> None:
        self._image = image
        self._plane = plane
        self._min_size = min_size
        self._partitioners: dict[float, object] = {}

    def layout(self, tokens_per_tile: int, lam: float, bias_px: np.ndarray | None = None) -> LayoutState:
        """The entropy partition as layout rows: geometry merged over the plane, regions in plane pixels."""
        p = self._partitioner(float(lam)).partition(int(tokens_per_tile), bias=bias_px)
        tiles = self._plane.num_tiles
        g = np.asarray(p.g_init, dtype=np.float32).reshape(tiles, -1, 5)
        n = g.shape[1]
        return LayoutState.build(
            geometry=merge_tiles(g, self._plane.tile_grid)[0],
            regions=np.asarray(p.regions).reshape(-1, 4),
            tiles=np.repeat(np.arange(tiles), n),
        )

    def _partitioner(self, lam: float):
        from gpstoken.partition import Partitioner

        part = self._partitioners.get(lam)
        if part is None:
            part = Partitioner(self._image, lam=lam, min_size=self._min_size, tile=self._plane.tile)
            self._partitioners = {lam: part}  # keep one: lambda changes are rare, memory is not free
        return part
