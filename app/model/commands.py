"""Edit commands: each keeps both sides of its change, so undo is bit-exact.

``do(doc, final)`` applies the change; an edit in progress (a drag, a stroke, a slider held) shows it
with ``Document.preview`` (``final=False``: the fast path, no history), and the command that ends the
edit is pushed once (``final=True``), so an undo step is always one whole edit. ``undo`` emits
``final=True``. Edits made of several changes (a token count and the re-partition it causes) are one
``Composite``. Factory functions below read the document, snapshot what they need and return a command;
``History.push`` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .bias import Box
from .layout import LOCK_GEOMETRY, LayoutState, carry_locks
from .result import Result

if TYPE_CHECKING:
    from .document import Document


@dataclass(frozen=True)
class SetGeometry:
    """Replace rows ``indices`` of the layout (geometry and regions)."""

    indices: np.ndarray
    before: LayoutState
    after: LayoutState
    name: str = "Edit Gaussians"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.layout.set_rows(self.indices, self.after, final=final)

    def undo(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self.before)


class MoveTokens(SetGeometry):
    """Translate Gaussians (one drag is one step)."""


class ReshapeToken(SetGeometry):
    """Set sigma, rho or mu of Gaussians numerically."""


@dataclass(frozen=True)
class AddToken:
    """Append one Gaussian at row ``index`` (a preview of the drag that sizes it may have appended it already)."""

    index: int
    row: LayoutState
    name: str = "Add Gaussian"

    def do(self, doc: "Document", final: bool = True) -> None:
        n = len(doc.layout)
        if n == self.index:
            doc.layout.append(self.row, final=final)
        elif n == self.index + 1:  # the previewed row is there: set it
            doc.layout.set_rows(np.array([self.index]), self.row, final=final)
        else:
            raise RuntimeError(f"AddToken expects {self.index} rows, the layout has {n}")

    def undo(self, doc: "Document") -> None:
        doc.layout.truncate(self.index)


@dataclass(frozen=True)
class DeleteTokens:
    """Soft-delete rows (their ``deleted`` bit); row indices never shift."""

    indices: np.ndarray
    name: str = "Delete Gaussians"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.layout.set_rows(self.indices, self._rows(doc, True), action="deleted")

    def undo(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self._rows(doc, False), action="deleted")

    def _rows(self, doc: "Document", deleted: bool) -> LayoutState:
        rows = doc.layout.rows(self.indices)
        return replace(rows, deleted=np.full(len(self.indices), deleted))


@dataclass(frozen=True)
class SetLocks:
    """Set the lock bits of rows."""

    indices: np.ndarray
    before: np.ndarray  # uint8 [K]
    after: np.ndarray
    name: str = "Lock"

    def do(self, doc: "Document", final: bool = True) -> None:
        self._apply(doc, self.after)

    def undo(self, doc: "Document") -> None:
        self._apply(doc, self.before)

    def _apply(self, doc: "Document", bits: np.ndarray) -> None:
        rows = doc.layout.rows(self.indices)
        doc.layout.set_rows(self.indices, replace(rows, locks=bits.copy()), action="locks")


@dataclass(frozen=True)
class PaintBias:
    """The bias pixels of ``box`` before and after one brush stroke."""

    box: Box
    before: np.ndarray
    after: np.ndarray
    name: str = "Paint density"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.bias.set_patch(self.box, self.after, final=final)

    def undo(self, doc: "Document") -> None:
        doc.bias.set_patch(self.box, self.before)


@dataclass(frozen=True)
class ChangeSettings:
    """Change saved settings (token count, lambda).

    ``before`` and ``after`` hold only the fields this step changes, so undoing it keeps every later
    change of other settings (engine, fit steps, brush).
    """

    before: dict
    after: dict
    name: str = "Change settings"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.update_settings(final=final, **self.after)

    def undo(self, doc: "Document") -> None:
        doc.update_settings(**self.before)


@dataclass(frozen=True)
class ReplaceLayout:
    """Swap the whole layout (a re-partition, a calibration, a layout loaded from a token file)."""

    before: LayoutState
    after: LayoutState
    name: str = "Re-partition"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.layout.replace(self.after, final=final)

    def undo(self, doc: "Document") -> None:
        doc.layout.replace(self.before)


@dataclass(frozen=True)
class SetImage:
    """Swap the document's image (a generated candidate accepted)."""

    before: np.ndarray
    after: np.ndarray
    before_sketch: bool
    name: str = "Set image"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.set_image(self.after, sketch=False)

    def undo(self, doc: "Document") -> None:
        doc.set_image(self.before, sketch=self.before_sketch)


@dataclass(frozen=True)
class InstallResult:
    """Show an engine result that is an edit of its own (the model engine's Refine); undo shows the one before."""

    before: Result
    after: Result
    name: str = "Refine"

    def do(self, doc: "Document", final: bool = True) -> None:
        doc.set_result(self.after)

    def undo(self, doc: "Document") -> None:
        doc.set_result(self.before)


@dataclass(frozen=True)
class Composite:
    """Several changes as one undo step: done in order, undone in reverse."""

    parts: tuple
    name: str

    def do(self, doc: "Document", final: bool = True) -> None:
        for part in self.parts:
            part.do(doc, final)

    def undo(self, doc: "Document") -> None:
        for part in reversed(self.parts):
            part.undo(doc)


# --- factories ----------------------------------------------------------------------------------


def movable(doc: "Document", indices: np.ndarray) -> np.ndarray:
    """The rows of ``indices`` whose geometry is not locked and that are not deleted."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    ok = (doc.layout.locks()[idx] & LOCK_GEOMETRY == 0) & ~doc.layout.deleted()[idx]
    return idx[ok]


def move_tokens(doc: "Document", origin: LayoutState, indices: np.ndarray, delta_px: np.ndarray) -> MoveTokens:
    """Rows ``indices`` as they were in ``origin`` (rows snapshot), moved by ``delta_px``."""
    geometry = doc.plane.translate(origin.geometry, delta_px)
    shift = np.rint(np.asarray(delta_px, dtype=np.float64))
    h, w = doc.plane.size
    regions = origin.regions + np.array([shift[0], shift[1], shift[0], shift[1]], dtype=np.int64)
    regions = np.clip(regions, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.int32)
    tiles = doc.plane.tile_of(doc.plane.centers(geometry))
    after = replace(origin, geometry=geometry, regions=regions, tiles=tiles)
    return MoveTokens(np.asarray(indices, np.int64), origin, after, name="Move")


def reshape_tokens(doc: "Document", indices: np.ndarray, geometry: np.ndarray, *, name: str = "Reshape",
                   before: LayoutState | None = None) -> ReshapeToken:
    """Rows ``indices`` with new ``geometry [K, 5]``; their regions follow the new extents. ``before``: the rows
    as the edit found them (default: as they are now)."""
    idx = np.asarray(indices, dtype=np.int64)
    before = doc.layout.rows(idx) if before is None else before
    g = np.asarray(geometry, np.float32).reshape(len(idx), 5)
    after = replace(before, geometry=g, regions=doc.plane.boxes(g), tiles=doc.plane.tile_of(doc.plane.centers(g)))
    return ReshapeToken(idx, before, after, name=name)


def new_row(doc: "Document", geometry: np.ndarray) -> LayoutState:
    g = np.asarray(geometry, np.float32).reshape(1, 5)
    return LayoutState.build(g, doc.plane.boxes(g), doc.plane.tile_of(doc.plane.centers(g)))


def delete_tokens(doc: "Document", indices: np.ndarray) -> DeleteTokens | None:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    idx = idx[~doc.layout.deleted()[idx]]
    return DeleteTokens(idx) if idx.size else None


def set_locks(doc: "Document", indices: np.ndarray, bits: int, on: bool) -> SetLocks | None:
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if not idx.size:
        return None
    before = doc.layout.locks()[idx]
    after = (before | bits) if on else (before & ~np.uint8(bits))
    return SetLocks(idx, before, after.astype(np.uint8), name="Lock" if on else "Unlock")


def relayout(doc: "Document", name: str, partition: LayoutState, settings: dict | None = None,
             paint: PaintBias | None = None) -> Composite:
    """One undo step: a brush stroke (``paint``) and/or a change of ``settings`` (token count, lambda), and the
    layout they lead to, ``partition`` (a fresh partition; the locks of regions it shares carry over)."""
    before = doc.committed_layout()
    parts: list = [] if paint is None else [paint]
    if settings:
        parts.append(ChangeSettings({key: getattr(doc.settings, key) for key in settings}, dict(settings)))
    parts.append(ReplaceLayout(before, carry_locks(before, partition)))
    return Composite(tuple(parts), name)


def set_token_count(doc: "Document", count: int) -> Composite:
    """The token count and its re-partition, computed now (the session computes it on its worker instead)."""
    return relayout(doc, "Token count", doc.partition(tokens_per_tile=int(count)), {"tokens_per_tile": int(count)})


def set_lambda(doc: "Document", lam: float) -> Composite:
    return relayout(doc, "Lambda", doc.partition(lam=float(lam)), {"lam": float(lam)})


def repartition(doc: "Document") -> Composite:
    """Drop layout edits: the partition of the current count, lambda and bias."""
    return relayout(doc, "Re-partition", doc.partition())


def replace_layout(doc: "Document", state: LayoutState, name: str) -> ReplaceLayout:
    """Install ``state`` as the whole layout (a calibration, a sampled layout)."""
    return ReplaceLayout(doc.committed_layout(), state, name=name)


def accept_candidate(doc: "Document", image: np.ndarray, layout: LayoutState) -> Composite:
    return Composite((SetImage(np.array(doc.image), np.array(image, np.uint8), doc.sketch),
                      ReplaceLayout(doc.committed_layout(), layout)), "Accept candidate")


def install_result(before: Result, after: Result) -> InstallResult:
    return InstallResult(before, after)
