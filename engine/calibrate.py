"""Layout calibration (paper Algorithm 2) in the official code's conventions.

A layout model predicts ``g_init``-like Gaussians that need not form a partition. Calibration snaps
their means onto the points where region centres can lie, re-partitions the tile by repeatedly
halving the region that holds the most snapped means, and emits a fresh official ``g_init``.

Conventions (all positions are tile-local; ``[a, b)`` is a half-open pixel interval, so the
inclusive region ``x0..x1`` is ``[x0, x1 + 1)`` and its corner-aligned centre is ``(x0 + x1) / 2``):

- Halving is the partition's: an interval of length L splits into the first ``L // 2`` pixels and
  the rest; a region is splittable iff its longer side is >= ``2 * min_size`` (with min_size 8 and
  power-of-two tiles: longer side >= 16, as in the official code); the longer side is split.
- Snap grid: along each axis, the centres of every interval the halving can produce. For a 256-px
  axis and min_size 8 these are the pixel coordinates 3.5, 7.5, ..., 251.5: spacing ``min_size/2``
  px, i.e. spacing ``min_size`` in the half-pixel units of ``x0 + x1``. A grid of spacing
  ``min_size`` px cannot work: 8-px regions centre at 8k+3.5 and larger ones at 8k+7.5, and the
  square rule below needs the latter exactly on a split line. Ties snap to the lower coordinate.
- Square regions split along x unless a snapped mean lies exactly on their vertical centre line
  ``x = (x0 + x1) / 2`` (paper ``x = (x1 + x2) / 2``); then along y. A mean on a split line belongs
  to the right/bottom half.
- Split order: most snapped means first (duplicates count each), then larger area, then earlier
  creation (the parent's left/top child is created before its right/bottom child). Splitting goes
  on by this order once no region holds two means, so the result always has exactly ``tokens``
  regions.

With these rules calibrating the ``g_init`` of any halving partition returns the same region set:
a leaf's centre lies strictly inside it, an internal node holds >= 2 centres, and a square node
split along y keeps a child centre on its vertical centre line exactly when the direction matters.
"""
from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ._callable_module import make_module_callable
from .errors import GPSTokenError
from .tokens import GEOMETRY_CHANNELS, MX, MY, g_init_from_regions, normalize_regions

Box = tuple[int, int, int, int]  # half-open (x0, x1, y0, y1) in pixel edges


@dataclass(frozen=True)
class Calibration:
    """Calibrated layout of one tile (``[N, ...]``) or of a batch of tiles (``[T, N, ...]``)."""

    regions: np.ndarray  # int64 [(T,) N, 4]: x0, y0, x1, y1 tile-local pixels, inclusive ends
    g_init: np.ndarray  # float32 [(T,) N, 5]: official g_init of the regions (rho = 0)
    snapped_means: np.ndarray  # float32 [(T,) K, 2]: (mu_x, mu_y) per input row after snapping, NaN if dropped
    dropped: int  # input rows dropped for NaN or infinite means (all tiles together)
    size: tuple[int, int]  # tile (H, W) in pixels

    def regions_normalized(self) -> np.ndarray:
        """The regions as the official normalised boxes, float32."""
        return normalize_regions(self.regions, self.size)


def calibrate(
    g_pred: np.ndarray | torch.Tensor,
    tokens: int | None = None,
    size: tuple[int, int] = (256, 256),
    min_size: int = 8,
    keep: np.ndarray | None = None,
) -> Calibration:
    """Turn predicted Gaussians ``[N, >=5]`` or ``[T, N, >=5]`` into a valid partition of ``tokens`` regions per tile.

    ``keep``: tile-local regions ``[K, 4]`` (inclusive) of the halving tree, pairwise disjoint, that every
    tile's partition holds as they are (the means drive the rest; see :func:`halve`).
    """
    g = _as_array(g_pred)
    h, w = _check_size(size, min_size)
    batched = g.ndim == 3
    tiles = g if batched else g[None]
    n_out = tiles.shape[1] if tokens is None else tokens
    grid = _SnapGrid(h, w, min_size)
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or not 1 <= n_out <= grid.max_regions:
        raise GPSTokenError(
            f"calibrate: tokens must be an integer in 1..{grid.max_regions} for a {h}x{w} tile "
            f"with min size {min_size}, got {n_out!r}"
        )
    results = [_calibrate_tile(t, int(n_out), grid, keep) for t in tiles]
    regions = np.stack([r for r, _ in results])
    snapped = np.stack([s for _, s in results])
    dropped = int(np.isnan(snapped[..., 0]).sum())
    if not batched:
        regions, snapped = regions[0], snapped[0]
    return Calibration(regions, g_init_from_regions(regions, (h, w)), snapped, dropped, (h, w))


def _as_array(g_pred: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(g_pred, torch.Tensor):
        g_pred = g_pred.detach().to("cpu", torch.float64).numpy()
    try:
        g = np.asarray(g_pred, dtype=np.float64)
    except (TypeError, ValueError):
        raise GPSTokenError("calibrate: g_pred must be a numeric array [N, 5] or [T, N, 5]") from None
    if g.ndim not in (2, 3) or g.shape[-1] < GEOMETRY_CHANNELS or g.shape[-2] == 0:
        raise GPSTokenError(f"calibrate: g_pred must have shape [N, >=5] or [T, N, >=5] with N >= 1, got {g.shape}")
    return g


def _check_size(size: tuple[int, int], min_size: int) -> tuple[int, int]:
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < 1:
        raise GPSTokenError(f"calibrate: min_size must be a positive integer, got {min_size!r}")
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise GPSTokenError(f"calibrate: size must be (height, width), got {size!r}") from None
    if min(h, w) < max(min_size, 2):
        raise GPSTokenError(f"calibrate: tile {h}x{w} is smaller than the minimum region side {min_size}")
    return h, w


def _interval_centres(length: int, min_size: int) -> np.ndarray:
    """Sorted ``a + b`` (twice the centre, in pixel-edge units) of every interval the halving makes."""
    centres, stack = [], [(0, length)]
    while stack:
        a, b = stack.pop()
        centres.append(a + b)
        if b - a >= 2 * min_size:
            mid = a + (b - a) // 2
            stack += [(a, mid), (mid, b)]
    return np.unique(centres)


def _leaf_count(length: int, min_size: int) -> int:
    if length < 2 * min_size:
        return 1
    return _leaf_count(length // 2, min_size) + _leaf_count(length - length // 2, min_size)


def _snap(values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted ``points`` for each value (ties go to the lower point)."""
    if len(points) == 1:
        return np.zeros(len(values), dtype=np.int64)
    hi = np.clip(np.searchsorted(points, values), 1, len(points) - 1)
    lo = hi - 1
    return np.where(values - points[lo] <= points[hi] - values, lo, hi)


class _SnapGrid:
    """Per-axis snap points of one tile shape and the lookups the split loop needs."""

    def __init__(self, h: int, w: int, min_size: int) -> None:
        self.h, self.w, self.min_size = h, w, min_size
        self.px = _interval_centres(w, min_size)
        self.py = _interval_centres(h, min_size)
        self.max_regions = _leaf_count(w, min_size) * _leaf_count(h, min_size)
        # number of snap points left of pixel edge e (a point on an edge belongs to the right side)
        self.x_edge_index = np.searchsorted(self.px, 2 * np.arange(w + 1)).tolist()
        self.y_edge_index = np.searchsorted(self.py, 2 * np.arange(h + 1)).tolist()
        self.x_point_index = {int(p): i for i, p in enumerate(self.px)}


def _calibrate_tile(g: np.ndarray, tokens: int, grid: _SnapGrid,
                    keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Regions ``int64 [tokens, 4]`` and snapped means ``float32 [K, 2]`` of one tile."""
    h, w = grid.h, grid.w
    mu = g[:, [MX, MY]]
    finite = np.isfinite(mu).all(axis=1)
    mu = np.clip(mu[finite], -1.0, 1.0)
    # twice the pixel-edge coordinate: pixel p (corner-aligned centre) spans edges [p, p+1)
    ix = _snap((mu[:, 0] + 1) * (w - 1) + 1, grid.px)
    iy = _snap((mu[:, 1] + 1) * (h - 1) + 1, grid.py)
    hist = np.zeros((len(grid.py) + 1, len(grid.px) + 1), dtype=np.int64)
    np.add.at(hist, (iy + 1, ix + 1), 1)
    integral = hist.cumsum(0).cumsum(1).tolist()

    snapped = np.full((len(g), 2), np.nan, dtype=np.float32)
    snapped[finite, 0] = (grid.px[ix] - 1) / (w - 1) - 1
    snapped[finite, 1] = (grid.py[iy] - 1) / (h - 1) - 1
    return _split_by_counts(integral, tokens, grid, keep), snapped


def _split_by_counts(integral: list[list[int]], tokens: int, grid: _SnapGrid,
                     keep: np.ndarray | None = None) -> np.ndarray:
    """Algorithm 2's halving on half-open boxes (x0, x1, y0, y1) in pixel edges, counts from ``integral``."""
    xe, ye = grid.x_edge_index, grid.y_edge_index

    def count(j0: int, j1: int, i0: int, i1: int) -> int:
        return integral[i1][j1] - integral[i0][j1] - integral[i1][j0] + integral[i0][j0]

    def means(box: Box) -> int:
        x0, x1, y0, y1 = box
        return count(xe[x0], xe[x1], ye[y0], ye[y1])

    def along_x(box: Box) -> bool:
        x0, x1, y0, y1 = box
        j = grid.x_point_index[x0 + x1]  # the centre of every produced interval is a snap point
        return count(j, j + 1, ye[y0], ye[y1]) == 0

    return halve((grid.h, grid.w), tokens, grid.min_size, means, along_x, keep)



def halve(size: tuple[int, int], tokens: int, min_size: int, score: Callable[[Box], float],
          along_x: Callable[[Box], bool], keep: np.ndarray | None = None) -> np.ndarray:
    """The halving loop shared by calibration and sketch layouts: ``tokens`` regions ``int64 [tokens, 4]``
    (x0, y0, x1, y1 inclusive, rows then columns).

    The splittable box with the highest ``score`` (then larger area, then earlier creation) is halved
    across its longer side; squares along x iff ``along_x(box)``. ``keep`` (inclusive regions of the
    halving tree, pairwise disjoint) become regions as they are: boxes holding one are split first, in a
    direction that cuts none, and kept boxes are never split. One-line error when they need more regions.
    """
    h, w = size
    kept = _KeptBoxes(keep, min_size)

    def entry(box: Box, serial: int) -> tuple:
        forced = kept.holds(box)
        return (not forced, 0 if forced else -score(box), -(box[1] - box[0]) * (box[3] - box[2]), serial, box)

    def final_box(box: Box) -> bool:
        return max(box[1] - box[0], box[3] - box[2]) < 2 * min_size or kept.is_kept(box)

    heap, final, serial = [], [], 1
    root = (0, w, 0, h)
    (final.append(root) if final_box(root) else heap.append(entry(root, 0)))
    while len(heap) + len(final) < tokens:
        if not heap:
            raise GPSTokenError(f"the kept regions leave room for at most {len(final)} regions, not {tokens}")
        *_, (x0, x1, y0, y1) = heapq.heappop(heap)
        bw, bh = x1 - x0, y1 - y0
        split_x = bw > bh if bw != bh else kept.square_along_x((x0, x1, y0, y1), along_x)
        if split_x:
            mid = x0 + bw // 2
            children = ((x0, mid, y0, y1), (mid, x1, y0, y1))
        else:
            mid = y0 + bh // 2
            children = ((x0, x1, y0, mid), (x0, x1, mid, y1))
        for box in children:
            (final.append(box) if final_box(box) else heapq.heappush(heap, entry(box, serial)))
            serial += 1
    if any(not e[0] for e in heap):
        raise GPSTokenError(f"the kept regions need more than {tokens} regions")
    boxes = np.array(final + [e[-1] for e in heap], dtype=np.int64).reshape(-1, 4)
    regions = np.stack([boxes[:, 0], boxes[:, 2], boxes[:, 1] - 1, boxes[:, 3] - 1], axis=1)
    return regions[np.lexsort((regions[:, 0], regions[:, 1]))]


def min_regions_keeping(size: tuple[int, int], keep: np.ndarray, min_size: int = 8) -> int:
    """The fewest regions of a halving partition of a ``size`` tile that holds every ``keep`` region."""
    h, w = size
    return _KeptBoxes(keep, min_size).min_leaves((0, w, 0, h))


def max_regions_keeping(size: tuple[int, int], keep: np.ndarray, min_size: int = 8) -> int:
    """The most regions a halving partition of a ``size`` tile can have while every ``keep`` region stays whole."""
    h, w = size
    return _KeptBoxes(keep, min_size).max_leaves((0, w, 0, h))


@functools.lru_cache(maxsize=4096)
def _full_leaves(w: int, h: int, min_size: int) -> int:
    """Regions of a ``w x h`` box halved until its longer side is below ``2 * min_size`` (as :func:`halve`)."""
    if max(w, h) < 2 * min_size:
        return 1
    if w >= h:
        return _full_leaves(w // 2, h, min_size) + _full_leaves(w - w // 2, h, min_size)
    return _full_leaves(w, h // 2, min_size) + _full_leaves(w, h - h // 2, min_size)


class _KeptBoxes:
    """Regions that must survive the halving as they are (half-open boxes), and the splits they force."""

    def __init__(self, keep: np.ndarray | None, min_size: int) -> None:
        r = np.zeros((0, 4), np.int64) if keep is None else np.asarray(keep, np.int64).reshape(-1, 4)
        self.boxes = np.stack([r[:, 0], r[:, 2] + 1, r[:, 1], r[:, 3] + 1], axis=1)  # x0, x1, y0, y1
        self.exact = set(map(tuple, self.boxes.tolist()))
        self.min_size = min_size

    def is_kept(self, box: Box) -> bool:
        return box in self.exact

    def inside(self, box: Box) -> np.ndarray:
        x0, x1, y0, y1 = box
        b = self.boxes
        return b[(b[:, 0] >= x0) & (b[:, 1] <= x1) & (b[:, 2] >= y0) & (b[:, 3] <= y1)]

    def holds(self, box: Box) -> bool:
        """True when a kept box lies inside ``box`` without being it: ``box`` must be split."""
        return bool(len(self.exact)) and not self.is_kept(box) and len(self.inside(box)) > 0

    def _cuts(self, box: Box) -> tuple[bool, bool]:
        """Whether splitting ``box`` along x (resp. y) leaves every kept box inside it whole."""
        x0, x1, y0, y1 = box
        b = self.inside(box)
        xm, ym = x0 + (x1 - x0) // 2, y0 + (y1 - y0) // 2
        return (not ((b[:, 0] < xm) & (b[:, 1] > xm)).any(), not ((b[:, 2] < ym) & (b[:, 3] > ym)).any())

    def square_along_x(self, box: Box, rule: Callable[[Box], bool]) -> bool:
        if not self.holds(box):
            return rule(box)
        x_ok, y_ok = self._cuts(box)
        if x_ok and y_ok:
            by_x, by_y = (sum(self.min_leaves(c) for c in self._children(box, a)) for a in (True, False))
            return rule(box) if by_x == by_y else by_x < by_y
        return x_ok

    @staticmethod
    def _children(box: Box, split_x: bool) -> tuple[Box, Box]:
        x0, x1, y0, y1 = box
        if split_x:
            mid = x0 + (x1 - x0) // 2
            return (x0, mid, y0, y1), (mid, x1, y0, y1)
        mid = y0 + (y1 - y0) // 2
        return (x0, x1, y0, mid), (x0, x1, mid, y1)

    def min_leaves(self, box: Box) -> int:
        if not self.holds(box):
            return 1
        return min(self._leaf_counts(box, self.min_leaves))

    def max_leaves(self, box: Box) -> int:
        if self.is_kept(box):
            return 1
        if not self.holds(box):
            return _full_leaves(box[1] - box[0], box[3] - box[2], self.min_size)
        return max(self._leaf_counts(box, self.max_leaves))

    def _leaf_counts(self, box: Box, leaves: Callable[[Box], int]) -> list[int]:
        """Per split direction that keeps the kept boxes inside ``box`` whole: ``leaves`` summed over both halves."""
        bw, bh = box[1] - box[0], box[3] - box[2]
        cuts = self._cuts(box)
        options = [a for a in ((bw > bh,) if bw != bh else (True, False)) if cuts[0 if a else 1]]
        counts = [sum(leaves(c) for c in self._children(box, a)) for a in options]
        if not counts:
            raise GPSTokenError("kept regions overlap or are not regions of the halving tree")
        return counts


make_module_callable(__name__)
