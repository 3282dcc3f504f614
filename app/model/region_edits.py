"""Split one region in two, as the partition splits, and merge two adjacent regions into one.

Split halves a region the reference way: across its longer side (squares: left/right), the first
half ``side // 2`` pixels, left/top first; both halves get the reference's g_init
(``Plane.g_init``, i.e. ``g_init_from_regions`` in the tile that holds them). The token keeps its
row for the first half; the second half is appended. Merge takes two regions of one tile whose union
is a rectangle: the lower row becomes the union (with its g_init), the other row is soft-deleted.

Token counts per tile: an edit may leave tiles with different counts (split +1, merge -1, like add
and delete). The engines take any count per tile, and ``Settings.tokens_per_tile`` stays the count
a re-partition restores; only the .npz token export needs equal counts, and says so when they are not.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from gpstoken.errors import GPSTokenError

from .commands import movable
from .layout import LayoutState

if TYPE_CHECKING:
    from .document import Document


@dataclass(frozen=True)
class SplitRegion:
    """Row ``index`` becomes the first half; the second half is appended as row ``length``."""

    index: int
    length: int  # the layout's length before the split
    before: LayoutState  # row ``index`` as it was
    first: LayoutState
    second: LayoutState
    name: str = "Split region"

    def do(self, doc: "Document", final: bool = True) -> None:
        if len(doc.layout) != self.length:
            raise RuntimeError(f"SplitRegion expects {self.length} rows, the layout has {len(doc.layout)}")
        doc.layout.set_rows(np.array([self.index]), self.first)
        doc.layout.append(self.second)

    def undo(self, doc: "Document") -> None:
        doc.layout.truncate(self.length)
        doc.layout.set_rows(np.array([self.index]), self.before)


@dataclass(frozen=True)
class MergeRegions:
    """Rows ``indices`` = (kept, deleted): the kept row covers both regions."""

    indices: np.ndarray
    before: LayoutState
    after: LayoutState
    name: str = "Merge regions"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.layout.set_rows(self.indices, self.after, action="deleted")

    def undo(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self.before, action="deleted")


def halves(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive box ``(x0, y0, x1, y1)`` -> (left/top, right/bottom) halves across the longer side."""
    x0, y0, x1, y1 = (int(v) for v in region)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    if w >= h:
        cut = x0 + w // 2
        return np.array([x0, y0, cut - 1, y1]), np.array([cut, y0, x1, y1])
    cut = y0 + h // 2
    return np.array([x0, y0, x1, cut - 1]), np.array([x0, cut, x1, y1])


def split_region(doc: "Document", rows: np.ndarray) -> SplitRegion:
    """The split of the one selected token's region, or a one-line GPSTokenError saying why not."""
    idx = np.asarray(rows, dtype=np.int64).reshape(-1)
    if len(idx) != 1:
        raise GPSTokenError("Split needs exactly one selected token")
    _check_editable(doc, idx, "Split")
    row = doc.layout.rows(idx)
    x0, y0, x1, y1 = (int(v) for v in row.regions[0])
    ms = doc.settings.min_size
    if x1 - x0 <= ms and y1 - y0 <= ms:  # the partition's rule: both extents (side - 1) at most min_size
        raise GPSTokenError(f"Split: the region is {x1 - x0 + 1}x{y1 - y0 + 1} px, too small to split "
                            f"(min size {ms})")
    a, b = halves(row.regions[0])
    boxes = np.stack([a, b])
    geometry = doc.plane.g_init(boxes)
    tiles = doc.plane.tile_of(doc.plane.centers(geometry))
    first = replace(row, geometry=geometry[:1], regions=boxes[:1].astype(np.int32), tiles=tiles[:1])
    second = LayoutState.build(geometry[1:], boxes[1:], tiles[1:], locks=row.locks)
    return SplitRegion(int(idx[0]), len(doc.layout), row, first, second)


def merge_regions(doc: "Document", rows: np.ndarray) -> MergeRegions:
    """The merge of two selected adjacent regions, or a one-line GPSTokenError saying why not."""
    idx = np.sort(np.asarray(rows, dtype=np.int64).reshape(-1))
    if len(idx) != 2:
        raise GPSTokenError("Merge needs exactly two selected tokens")
    _check_editable(doc, idx, "Merge")
    before = doc.layout.rows(idx)
    if before.tiles[0] != before.tiles[1]:
        raise GPSTokenError("Merge: the two regions lie in different tiles")
    union = _union(before.regions[0], before.regions[1])
    if union is None:
        raise GPSTokenError("Merge: the two regions do not share a whole side (their union is not a rectangle)")
    geometry = doc.plane.g_init(union[None])
    after = replace(before, geometry=np.concatenate([geometry, before.geometry[1:]]),
                    regions=np.stack([union, before.regions[1]]).astype(np.int32),
                    deleted=np.array([False, True]))
    return MergeRegions(idx, before, after)


REGION_EDITS = {"split": split_region, "merge": merge_regions}


def apply_region_edit(doc: "Document", name: str) -> str:
    """Run ``name`` ("split" or "merge") on the selection as one undo step and select what it made; returns
    the status line. A GPSTokenError says why it cannot run, and nothing changes."""
    cmd = REGION_EDITS[name](doc, doc.layout.selection())
    doc.history.push(cmd)
    doc.layout.select([cmd.index, cmd.length] if name == "split" else [int(cmd.indices[0])])
    live = doc.layout.live()
    counts = np.bincount(doc.layout.state().tiles[live], minlength=doc.plane.num_tiles)
    uneven = f"; tiles now hold {counts.min()}-{counts.max()} tokens" if counts.min() != counts.max() else ""
    return f"{cmd.name}: {len(live)} tokens{uneven}"


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """The union of two inclusive boxes if it is a rectangle they tile exactly, else None."""
    ax0, ay0, ax1, ay1 = (int(v) for v in a)
    bx0, by0, bx1, by1 = (int(v) for v in b)
    side_by_side = (ay0, ay1) == (by0, by1) and (ax1 + 1 == bx0 or bx1 + 1 == ax0)
    stacked = (ax0, ax1) == (bx0, bx1) and (ay1 + 1 == by0 or by1 + 1 == ay0)
    if not (side_by_side or stacked):
        return None
    return np.array([min(ax0, bx0), min(ay0, by0), max(ax1, bx1), max(ay1, by1)])


def _check_editable(doc: "Document", idx: np.ndarray, verb: str) -> None:
    if doc.layout.deleted()[idx].any():
        raise GPSTokenError(f"{verb}: a selected token is deleted")
    if len(movable(doc, idx)) != len(idx):
        raise GPSTokenError(f"{verb}: a selected token's geometry is locked (unlock it first)")
