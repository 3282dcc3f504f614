"""The editable token layout (g_init): one row per Gaussian plus its region, tile, locks and bits.

``TokenLayout`` is the sole writer of these arrays; every write emits ``changed`` with a
``LayoutChange`` (``final`` False while a drag is in progress: the fast path; True otherwise).
Deleted rows stay in place with their ``deleted`` bit set, so row indices never shift under undo.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from psygnal import Signal

LOCK_GEOMETRY = 1
LOCK_FEATURES = 2


@dataclass(frozen=True)
class LayoutState:
    """Copies of every row: what a re-partition replaces and its undo restores."""

    geometry: np.ndarray  # float32 [M, 5] merged over the plane
    regions: np.ndarray  # int32 [M, 4] plane pixels (x0, y0, x1, y1), inclusive
    tiles: np.ndarray  # int32 [M] row-major tile index
    locks: np.ndarray  # uint8 [M] LOCK_GEOMETRY | LOCK_FEATURES
    deleted: np.ndarray  # bool [M]

    @classmethod
    def build(cls, geometry: np.ndarray, regions: np.ndarray, tiles: np.ndarray,
              locks: np.ndarray | None = None, deleted: np.ndarray | None = None) -> "LayoutState":
        m = len(geometry)
        return cls(
            np.array(geometry, dtype=np.float32).reshape(m, 5),
            np.array(regions, dtype=np.int32).reshape(m, 4),
            np.array(tiles, dtype=np.int32).reshape(m),
            np.zeros(m, np.uint8) if locks is None else np.array(locks, dtype=np.uint8).reshape(m),
            np.zeros(m, bool) if deleted is None else np.array(deleted, dtype=bool).reshape(m),
        )

    @classmethod
    def empty(cls) -> "LayoutState":
        return cls.build(np.zeros((0, 5)), np.zeros((0, 4)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.geometry)

    def rows(self, idx: np.ndarray) -> "LayoutState":
        return LayoutState(*(np.array(a[idx]) for a in self.arrays()))

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.geometry, self.regions, self.tiles, self.locks, self.deleted

    def equals(self, other: "LayoutState") -> bool:
        return all(np.array_equal(a, b) for a, b in zip(self.arrays(), other.arrays()))

    def with_geometry(self, geometry: np.ndarray, regions: np.ndarray | None = None) -> "LayoutState":
        return replace(self, geometry=np.array(geometry, np.float32),
                       regions=self.regions if regions is None else np.array(regions, np.int32))


def carry_locks(source: LayoutState, target: LayoutState) -> LayoutState:
    """``target`` with the lock bits of ``source``'s live locked rows whose region box it also has, so a
    re-partition keeps the locks of every region it leaves as it was."""
    locked = np.flatnonzero((source.locks != 0) & ~source.deleted)
    if not locked.size:
        return target
    bits = {tuple(source.regions[i]): source.locks[i] for i in locked}
    locks = np.array([bits.get(tuple(box), 0) for box in target.regions], np.uint8) | target.locks
    return replace(target, locks=locks)


@dataclass(frozen=True)
class LayoutChange:
    """What changed: ``action`` on rows ``indices`` (a copy); ``final`` False during a drag."""

    action: str  # "geometry" | "append" | "truncate" | "locks" | "deleted" | "replace"
    indices: np.ndarray
    final: bool = True


class TokenLayout:
    """Rows of g_init Gaussians and their per-token state; the selection lives here too."""

    changed = Signal(LayoutChange)
    selection_changed = Signal(object)  # np.ndarray of selected row indices

    def __init__(self, state: LayoutState | None = None) -> None:
        self._s = state if state is not None else LayoutState.empty()
        self._selected = np.zeros(len(self._s), bool)

    # --- reading: callers always get copies ----------------------------------------------------

    def __len__(self) -> int:
        return len(self._s)

    def state(self) -> LayoutState:
        return LayoutState(*(a.copy() for a in self._s.arrays()))

    def rows(self, idx: np.ndarray) -> LayoutState:
        return self._s.rows(np.asarray(idx, dtype=np.int64))

    def geometry(self) -> np.ndarray:
        return self._s.geometry.copy()

    def regions(self) -> np.ndarray:
        return self._s.regions.copy()

    def locks(self) -> np.ndarray:
        return self._s.locks.copy()

    def deleted(self) -> np.ndarray:
        return self._s.deleted.copy()

    def live(self) -> np.ndarray:
        """Indices of rows that are not deleted."""
        return np.flatnonzero(~self._s.deleted)

    def selection(self) -> np.ndarray:
        return np.flatnonzero(self._selected)

    def selected_mask(self) -> np.ndarray:
        return self._selected.copy()

    # --- writing --------------------------------------------------------------------------------

    def set_rows(self, idx: np.ndarray, rows: LayoutState, *, action: str = "geometry", final: bool = True) -> None:
        """Overwrite rows ``idx`` with ``rows`` (all arrays)."""
        idx = np.asarray(idx, dtype=np.int64)
        for dst, src in zip(self._s.arrays(), rows.arrays()):
            dst[idx] = src
        if action == "deleted":
            self._deselect(idx[self._s.deleted[idx]])
        self.changed.emit(LayoutChange(action, idx.copy(), final))

    def append(self, rows: LayoutState, *, final: bool = True) -> None:
        start = len(self._s)
        self._s = LayoutState(*(np.concatenate([a, b]) for a, b in zip(self._s.arrays(), rows.arrays())))
        self._selected = np.concatenate([self._selected, np.zeros(len(rows), bool)])
        self.changed.emit(LayoutChange("append", np.arange(start, len(self._s)), final))

    def truncate(self, length: int, *, final: bool = True) -> None:
        removed = np.arange(length, len(self._s))
        self._s = self._s.rows(np.arange(length))
        self._selected = self._selected[:length].copy()
        self.changed.emit(LayoutChange("truncate", removed, final))
        if removed.size:
            self.selection_changed.emit(self.selection())

    def replace(self, state: LayoutState, *, final: bool = True) -> None:
        """Swap in a whole new layout (a re-partition); the selection is cleared."""
        self._s = LayoutState(*(a.copy() for a in state.arrays()))
        self._selected = np.zeros(len(self._s), bool)
        self.changed.emit(LayoutChange("replace", np.arange(len(self._s)), final))
        self.selection_changed.emit(self.selection())

    def select(self, idx: np.ndarray, mode: str = "replace") -> None:
        """Change the selection: ``mode`` is "replace", "add", "remove" or "toggle"; deleted rows never count."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        new = np.zeros_like(self._selected) if mode == "replace" else self._selected.copy()
        if mode in ("replace", "add"):
            new[idx] = True
        elif mode == "remove":
            new[idx] = False
        elif mode == "toggle":
            new[idx] = ~new[idx]
        else:
            raise ValueError(f"unknown selection mode {mode!r}")
        new &= ~self._s.deleted
        if not np.array_equal(new, self._selected):
            self._selected = new
            self.selection_changed.emit(self.selection())

    def _deselect(self, idx: np.ndarray) -> None:
        if self._selected[idx].any():
            self._selected[idx] = False
            self.selection_changed.emit(self.selection())
