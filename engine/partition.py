"""The entropy partition of the reference implementation (facts §2), per 256-px tile, with a bias map.

Each tile starts as one region. While there are fewer than N regions, the region with the largest
metric ``m = H**lam * h * w + sum(bias over the region)`` that is still splittable (not both extents
<= ``min_size``; extent = side - 1) is halved: across the longer side, and for squares left/right only
if ``min(m_left, m_right) < min(m_top, m_bottom)`` (strictly), else top/bottom. The first half is
``side // 2`` pixels. The output order is the reference's list order (see ``_TileTree.split``).

Sizes (:class:`gpstoken.tiling.Tiling`): an image whose sides are not multiples of the tile is padded at the
bottom and right by replicating its edge pixels up to whole tiles (the bias map is padded with zeros), and
the regions then cover that padded canvas; an image smaller than a tile becomes one padded tile (the "pad"
small-image policy). ``tile=0`` makes the whole image one tile of any shape (no padding); g_init is then
normalised with its H and W.

Bias sums are exact fixed-point sums (see ``gpstoken.bias``). ``Partitioner`` keeps the bias-free
metric of every region it has measured, per tile, so a new token count or bias map only reruns the
splitting loop (and measures the regions it reaches for the first time).
"""
from __future__ import annotations

import heapq
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._callable_module import make_module_callable
from .bias import bias_integral, box_sums
from .entropy import region_metrics, unit_luma
from .errors import GPSTokenError
from .tiling import Tiling
from .tokens import g_init_from_regions, normalize_regions

Box = tuple[int, int, int, int]  # (y0, x0, h, w), tile-local
LAM_MAX = 20.0  # entropies are <= 9 bits, so H**lam * area stays finite


@dataclass(frozen=True, eq=False)
class Partition:
    """Regions of every tile and their official g_init.

    ``regions``: int64 ``[T*N, 4]`` boxes ``(x0, y0, x1, y1)`` in pixels of the (padded) canvas, ends
    inclusive, tile-major (row-major tiles). ``g_init``: float32 ``[T*N, 5]``, tile-local official
    normalisation. ``tiling`` says how the (original) image is cut; ``tile`` is 0 when it is one whole tile.
    """

    regions: np.ndarray
    g_init: np.ndarray
    tiling: Tiling
    tokens_per_tile: int

    @property
    def tile_grid(self) -> tuple[int, int]:
        return self.tiling.tile_grid

    @property
    def image_size(self) -> tuple[int, int]:
        return self.tiling.image_size

    @property
    def tile(self) -> int:
        return self.tiling.tile

    @property
    def tile_hw(self) -> tuple[int, int]:
        """(height, width) of one tile in pixels."""
        return self.tiling.tile_hw

    def regions_local(self) -> np.ndarray:
        """Tile-local pixel boxes ``[T, N, 4]``."""
        return self.tiling.to_local(self.regions)

    def regions_normalized(self) -> np.ndarray:
        """The official normalised boxes ``[T, N, 4]`` (float32)."""
        return normalize_regions(self.regions_local(), self.tile_hw)

    def to_json(self) -> dict:
        """The ``gpstoken partition --json`` document (DESIGN.md); width/height are the original image's."""
        return {
            "width": self.image_size[1],
            "height": self.image_size[0],
            "tile": self.tile,
            "tokens_per_tile": self.tokens_per_tile,
            "regions": self.regions.tolist(),
            "g_init": self.g_init.tolist(),
        }


def partition(
    image_rgb_uint8: np.ndarray,
    tokens_per_tile: int,
    lam: float = 2.5,
    min_size: int = 8,
    tile: int = 256,
    bias: np.ndarray | None = None,
) -> Partition:
    """Partition ``image_rgb_uint8 [H, W, 3]`` into ``tokens_per_tile`` regions per tile (see module doc)."""
    return Partitioner(image_rgb_uint8, lam=lam, min_size=min_size, tile=tile).partition(tokens_per_tile, bias)


@lru_cache(maxsize=None)
def max_partition_regions(h: int, w: int, min_size: int) -> int:
    """The most regions the partition can cut an ``h x w`` tile into: its count once every region is too small
    to split (the largest valid ``tokens_per_tile``)."""
    if h - 1 <= min_size and w - 1 <= min_size:
        return 1
    if w >= h:
        return max_partition_regions(h, w // 2, min_size) + max_partition_regions(h, w - w // 2, min_size)
    return max_partition_regions(h // 2, w, min_size) + max_partition_regions(h - h // 2, w, min_size)




class Partitioner:
    """Partitions one image repeatedly (new token counts, new bias maps), reusing region entropies."""

    def __init__(self, image_rgb_uint8: np.ndarray, lam: float = 2.5, min_size: int = 8, tile: int = 256) -> None:
        image = _check_image(image_rgb_uint8)
        self.lam, self.min_size = _check_settings(lam, min_size)
        self.tiling = Tiling(image.shape[:2], tile)
        self.tile, self.image_size, self.tile_hw = self.tiling.tile, self.tiling.image_size, self.tiling.tile_hw
        self.tile_grid, self.canvas_hw = self.tiling.tile_grid, self.tiling.canvas_size
        unit = self.tiling.pad_to_canvas(unit_luma(image))
        th, tw = self.tile_hw
        self._trees = [
            _TileTree(np.ascontiguousarray(unit[y:y + th, x:x + tw]), (int(y), int(x)), self.min_size)
            for x, y, _, _ in self.tiling.box_offsets()
        ]
        self.max_tokens = max_partition_regions(th, tw, self.min_size)

    def partition(self, tokens_per_tile: int, bias: np.ndarray | None = None) -> Partition:
        """The partition with ``tokens_per_tile`` regions per tile and an optional bias map ``[H, W]``."""
        n = self._check_count(tokens_per_tile)
        integral = None if bias is None else bias_integral(bias, self.image_size, self.canvas_hw)
        boxes = self._split_tiles(n, integral)
        y0, x0, h, w = np.array(boxes, dtype=np.int64).reshape(len(boxes), n, 4).transpose(2, 0, 1)
        local = np.stack([x0, y0, x0 + w - 1, y0 + h - 1], axis=-1)
        g_init = g_init_from_regions(local, self.tile_hw).reshape(-1, 5)
        return Partition(self.tiling.to_canvas(local), g_init, self.tiling, n)

    def _split_tiles(self, n: int, integral: np.ndarray | None) -> list[list[Box]]:
        """Run every tile's loop in lockstep, measuring the regions they ask for in shared batches."""
        loops = [tree.split(n, integral) for tree in self._trees]
        results: list[list[Box]] = [[] for _ in loops]
        requests: dict[int, list[Box]] = {}

        def advance(t: int) -> None:
            try:
                requests[t] = next(loops[t])
            except StopIteration as done:
                results[t] = done.value

        for t in range(len(loops)):
            advance(t)
        while requests:
            batch = list(requests.items())
            requests.clear()
            crops = [self._trees[t].crop(b) for t, boxes in batch for b in boxes]
            metrics = iter(region_metrics(crops, self.lam))
            for t, boxes in batch:
                self._trees[t].store(boxes, [next(metrics) for _ in boxes])
                advance(t)
        return results

    def _check_count(self, tokens_per_tile: int) -> int:
        th, tw = self.tile_hw
        allowed = f"1..{self.max_tokens} for {th}x{tw} tiles with min_size {self.min_size}"
        try:
            n = int(tokens_per_tile)
        except (TypeError, ValueError):
            raise GPSTokenError(f"tokens per tile must be an integer in {allowed}, got {tokens_per_tile!r}") from None
        if n != tokens_per_tile or not 1 <= n <= self.max_tokens:
            raise GPSTokenError(f"tokens per tile must be in {allowed}, got {tokens_per_tile!r}")
        return n


class _TileTree:
    """One tile: its unit luma and the bias-free metric of every region measured so far."""

    def __init__(self, unit: np.ndarray, origin: tuple[int, int], min_size: int) -> None:
        self.unit, self.origin, self.min_size = unit, origin, min_size
        self.index: dict[Box, int] = {}  # box -> position in base / rows
        self.boxes: list[Box] = []
        self.base: list[float] = []

    def crop(self, box: Box) -> np.ndarray:
        y0, x0, h, w = box
        return self.unit[y0:y0 + h, x0:x0 + w]

    def store(self, boxes: list[Box], metrics: list[float]) -> None:
        for b in boxes:
            self.index[b] = len(self.index)
        self.boxes += boxes
        self.base += metrics

    def split(self, n: int, integral: np.ndarray | None) -> Generator[list[Box], None, list[Box]]:
        """The reference's splitting loop for ``n`` regions; returns boxes in the reference's final order.

        Yields the boxes it needs but has not measured; the caller measures them and calls ``store``.

        The reference sorts its list by m, descending, with a stable sort at every step, removes the
        split parent and appends its two children. Give every entry a serial number when it is
        created (children: parent's successors, first child lower). Claim: after each sort the list is
        ordered by (-m, serial). True for one entry; if true after a sort, removing the parent keeps
        that order for the others, and the two children are appended behind all of them in serial
        order, so entries with equal m are in serial order and the stable sort yields (-m, serial)
        order again. A heap keyed by (-m, serial) therefore pops entries in the order the reference
        scans them; popped unsplittable entries are set aside (they never become splittable). The
        final list is the last sort minus the parent, i.e. every other entry by (-m, serial), followed
        by the last two children.
        """
        index = self.index
        totals: list[float] = []  # metric + bias of each stored box, by position
        self._extend(totals, integral)
        ms = self.min_size

        def metric(b: Box) -> float:
            return totals[index[b]]

        root = (0, 0) + self.unit.shape
        if root not in index:
            yield [root]
            self._extend(totals, integral)
        heap = [(-metric(root), 0, root)]
        aside = []
        serial, count, last = 1, 1, []
        while count < n:
            entry = heapq.heappop(heap)
            y0, x0, h, w = entry[2]
            if h - 1 <= ms and w - 1 <= ms:
                aside.append(entry)
                continue
            if w > h:
                kids = [(y0, x0, h, w // 2), (y0, x0 + w // 2, h, w - w // 2)]
            elif w < h:
                kids = [(y0, x0, h // 2, w), (y0 + h // 2, x0, h - h // 2, w)]
            else:
                kids = [(y0, x0, h, w // 2), (y0, x0 + w // 2, h, w - w // 2),
                        (y0, x0, h // 2, w), (y0 + h // 2, x0, h - h // 2, w)]
            missing = [b for b in kids if b not in index]
            if missing:
                yield missing
                self._extend(totals, integral)
            m = [metric(b) for b in kids]
            if len(kids) == 4 and not min(m[0], m[1]) < min(m[2], m[3]):  # the reference's square rule
                kids, m = kids[2:], m[2:]
            last = [(-m[0], serial, kids[0]), (-m[1], serial + 1, kids[1])]
            heapq.heappush(heap, last[0])
            heapq.heappush(heap, last[1])
            serial += 2
            count += 1
        if not last:
            return [root]
        rest = sorted(e for e in heap + aside if e[1] < last[0][1])
        return [e[2] for e in rest + last]

    def _extend(self, totals: list[float], integral: np.ndarray | None) -> None:
        """Append metric + bias sum of the stored boxes that ``totals`` does not cover yet."""
        start = len(totals)
        if integral is None:
            totals += self.base[start:]
        else:
            sums = box_sums(integral, np.array(self.boxes[start:], dtype=np.int64).reshape(-1, 4), self.origin)
            totals += (np.asarray(self.base[start:]) + sums).tolist()


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise GPSTokenError(f"image must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise GPSTokenError(f"image must be uint8 RGB HxWx3, got {image.dtype} {_shape(image)}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise GPSTokenError(f"image is empty ({_shape(image)})")
    return image


def _check_settings(lam: float, min_size: int) -> tuple[float, int]:
    try:
        lam = float(lam)
    except (TypeError, ValueError):
        raise GPSTokenError(f"lam must be a number, got {lam!r}") from None
    if not 0.0 <= lam <= LAM_MAX:
        raise GPSTokenError(f"lam must be in [0, {LAM_MAX:g}], got {lam}")
    if not _is_int(min_size) or min_size < 1:
        raise GPSTokenError(f"min_size must be an integer >= 1, got {min_size!r}")
    return lam, int(min_size)


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _shape(a: np.ndarray) -> str:
    return "x".join(str(s) for s in a.shape) or "scalar"


make_module_callable(__name__)
