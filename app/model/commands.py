"""Edit commands: each keeps both sides of its change, so undo is bit-exact.

``do`` re-emits with the command's ``final`` flag (False for the updates of a drag in progress,
which ``History`` merges by ``merge_id``); ``undo`` always emits ``final=True``. Factory functions
below read the document, snapshot what they need and return a command; ``History.push`` runs it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .bias import Box
from .layout import LOCK_GEOMETRY, LayoutState
from .result import Result

if TYPE_CHECKING:
    from .document import Document


@dataclass(frozen=True)
class Relayout:
    """A whole-layout swap that rides along with a setting or bias change."""

    before: LayoutState
    after: LayoutState


@dataclass(frozen=True)
class SetGeometry:
    """Replace rows ``indices`` of the layout (geometry and regions)."""

    indices: np.ndarray
    before: LayoutState
    after: LayoutState
    final: bool = True
    merge_id: object = None
    name: str = "Edit Gaussians"

    def do(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self.after, final=self.final)

    def undo(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self.before)

    def merged(self, newer) -> "SetGeometry | None":
        if type(newer) is type(self) and np.array_equal(newer.indices, self.indices):
            return replace(newer, before=self.before)
        return None


class MoveTokens(SetGeometry):
    """Translate Gaussians (one drag is one step)."""


class ReshapeToken(SetGeometry):
    """Set sigma, rho or mu of Gaussians numerically."""


@dataclass(frozen=True)
class AddToken:
    """Append one Gaussian at row ``index``; the drag that sizes it merges in as SetGeometry updates."""

    index: int
    row: LayoutState
    final: bool = True
    merge_id: object = None
    name: str = "Add Gaussian"

    def do(self, doc: "Document") -> None:
        if len(doc.layout) != self.index:
            raise RuntimeError(f"AddToken expects {self.index} rows, the layout has {len(doc.layout)}")
        doc.layout.append(self.row, final=self.final)

    def undo(self, doc: "Document") -> None:
        doc.layout.truncate(self.index)

    def merged(self, newer) -> "AddToken | None":
        if isinstance(newer, SetGeometry) and newer.indices.tolist() == [self.index]:
            return replace(self, row=newer.after, final=newer.final)
        return None


@dataclass(frozen=True)
class DeleteTokens:
    """Soft-delete rows (their ``deleted`` bit); row indices never shift."""

    indices: np.ndarray
    merge_id: object = None
    name: str = "Delete Gaussians"

    def do(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self._rows(doc, True), action="deleted")

    def undo(self, doc: "Document") -> None:
        doc.layout.set_rows(self.indices, self._rows(doc, False), action="deleted")

    def _rows(self, doc: "Document", deleted: bool) -> LayoutState:
        rows = doc.layout.rows(self.indices)
        return replace(rows, deleted=np.full(len(self.indices), deleted))

    def merged(self, newer) -> None:
        return None


@dataclass(frozen=True)
class SetLocks:
    """Set the lock bits of rows."""

    indices: np.ndarray
    before: np.ndarray  # uint8 [K]
    after: np.ndarray
    merge_id: object = None
    name: str = "Lock"

    def do(self, doc: "Document") -> None:
        self._apply(doc, self.after)

    def undo(self, doc: "Document") -> None:
        self._apply(doc, self.before)

    def _apply(self, doc: "Document", bits: np.ndarray) -> None:
        rows = doc.layout.rows(self.indices)
        doc.layout.set_rows(self.indices, replace(rows, locks=bits.copy()), action="locks")

    def merged(self, newer) -> None:
        return None


@dataclass(frozen=True)
class PaintBias:
    """One brush stroke: the bias pixels of ``box`` before and after, plus the re-partition it caused."""

    box: Box
    before: np.ndarray
    after: np.ndarray
    relayout: Relayout | None = None
    final: bool = True
    merge_id: object = None
    name: str = "Paint density"

    def do(self, doc: "Document") -> None:
        doc.bias.set_patch(self.box, self.after, final=self.final)
        if self.relayout is not None:
            doc.layout.replace(self.relayout.after, final=self.final)

    def undo(self, doc: "Document") -> None:
        doc.bias.set_patch(self.box, self.before)
        if self.relayout is not None:
            doc.layout.replace(self.relayout.before)

    def merged(self, newer) -> "PaintBias | None":
        # a stroke's updates are all taken against the stroke's start, so the newest covers them all
        return newer if isinstance(newer, PaintBias) else None


@dataclass(frozen=True)
class ChangeSettings:
    """Change saved settings (token count, lambda), with the re-partition they cause.

    ``before`` and ``after`` hold only the fields this step changes, so undoing it keeps every later
    change of other settings (engine, fit steps, brush).
    """

    before: dict
    after: dict
    relayout: Relayout | None = None
    final: bool = True
    merge_id: object = None
    name: str = "Change settings"

    def do(self, doc: "Document") -> None:
        doc.update_settings(final=self.final, **self.after)
        if self.relayout is not None:
            doc.layout.replace(self.relayout.after, final=self.final)

    def undo(self, doc: "Document") -> None:
        doc.update_settings(**self.before)
        if self.relayout is not None:
            doc.layout.replace(self.relayout.before)

    def merged(self, newer) -> "ChangeSettings | None":
        if type(newer) is not type(self):
            return None
        relayout = None
        if self.relayout is not None and newer.relayout is not None:
            relayout = Relayout(self.relayout.before, newer.relayout.after)
        return replace(newer, before={**newer.before, **self.before}, relayout=relayout)


class SetTokenCount(ChangeSettings):
    """Tokens per tile: re-partitions, keeping the painted bias."""


class SetLambda(ChangeSettings):
    """The entropy exponent lambda: re-partitions, keeping the painted bias."""


@dataclass(frozen=True)
class ReplaceLayout:
    """Swap the whole layout (re-partition now, or a layout loaded from a token file)."""

    relayout: Relayout
    merge_id: object = None
    name: str = "Re-partition"

    def do(self, doc: "Document") -> None:
        doc.layout.replace(self.relayout.after)

    def undo(self, doc: "Document") -> None:
        doc.layout.replace(self.relayout.before)

    def merged(self, newer) -> None:
        return None


@dataclass(frozen=True)
class AcceptCandidate:
    """A generated candidate becomes the document: its image and layout (undo brings back both)."""

    before_image: np.ndarray
    after_image: np.ndarray
    before_sketch: bool
    relayout: Relayout
    merge_id: object = None
    name: str = "Accept candidate"

    def do(self, doc: "Document") -> None:
        doc.set_image(self.after_image, sketch=False)
        doc.layout.replace(self.relayout.after)

    def undo(self, doc: "Document") -> None:
        doc.set_image(self.before_image, sketch=self.before_sketch)
        doc.layout.replace(self.relayout.before)

    def merged(self, newer) -> None:
        return None


@dataclass(frozen=True)
class InstallResult:
    """Show an engine result that is an edit of its own (the model engine's Refine); undo shows the one before."""

    before: Result
    after: Result
    merge_id: object = None
    name: str = "Refine"

    def do(self, doc: "Document") -> None:
        doc.set_result(self.after)

    def undo(self, doc: "Document") -> None:
        doc.set_result(self.before)

    def merged(self, newer) -> None:
        return None


# --- factories ----------------------------------------------------------------------------------


def movable(doc: "Document", indices: np.ndarray) -> np.ndarray:
    """The rows of ``indices`` whose geometry is not locked and that are not deleted."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    ok = (doc.layout.locks()[idx] & LOCK_GEOMETRY == 0) & ~doc.layout.deleted()[idx]
    return idx[ok]


def move_tokens(doc: "Document", origin: LayoutState, indices: np.ndarray, delta_px: np.ndarray, *,
                final: bool = True, merge_id: object = None) -> MoveTokens:
    """Rows ``indices`` as they were in ``origin`` (rows snapshot), moved by ``delta_px``."""
    geometry = doc.plane.translate(origin.geometry, delta_px)
    shift = np.rint(np.asarray(delta_px, dtype=np.float64))
    h, w = doc.plane.size
    regions = origin.regions + np.array([shift[0], shift[1], shift[0], shift[1]], dtype=np.int64)
    regions = np.clip(regions, 0, [w - 1, h - 1, w - 1, h - 1]).astype(np.int32)
    tiles = doc.plane.tile_of(doc.plane.centers(geometry))
    after = replace(origin, geometry=geometry, regions=regions, tiles=tiles)
    return MoveTokens(np.asarray(indices, np.int64), origin, after, final=final, merge_id=merge_id, name="Move")


def reshape_tokens(doc: "Document", indices: np.ndarray, geometry: np.ndarray, *, final: bool = True,
                   merge_id: object = None, name: str = "Reshape") -> ReshapeToken:
    """Rows ``indices`` with new ``geometry [K, 5]``; their regions follow the new extents."""
    idx = np.asarray(indices, dtype=np.int64)
    before = doc.layout.rows(idx)
    g = np.asarray(geometry, np.float32).reshape(len(idx), 5)
    after = replace(before, geometry=g, regions=doc.plane.boxes(g), tiles=doc.plane.tile_of(doc.plane.centers(g)))
    return ReshapeToken(idx, before, after, final=final, merge_id=merge_id, name=name)


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


def set_token_count(doc: "Document", count: int, *, final: bool = True, merge_id: object = None) -> SetTokenCount:
    return SetTokenCount({"tokens_per_tile": doc.settings.tokens_per_tile}, {"tokens_per_tile": int(count)},
                         Relayout(doc.layout.state(), doc.partition(tokens_per_tile=int(count))),
                         final=final, merge_id=merge_id, name="Token count")


def set_lambda(doc: "Document", lam: float, *, final: bool = True, merge_id: object = None) -> SetLambda:
    return SetLambda({"lam": doc.settings.lam}, {"lam": float(lam)},
                     Relayout(doc.layout.state(), doc.partition(lam=float(lam))),
                     final=final, merge_id=merge_id, name="Lambda")


def repartition(doc: "Document") -> ReplaceLayout:
    """Drop layout edits: the partition of the current count, lambda and bias."""
    return replace_layout(doc, doc.partition(), "Re-partition")


def replace_layout(doc: "Document", state: LayoutState, name: str) -> ReplaceLayout:
    """Install ``state`` as the whole layout (a calibration, a sampled layout)."""
    return ReplaceLayout(Relayout(doc.layout.state(), state), name=name)


def accept_candidate(doc: "Document", image: np.ndarray, layout: LayoutState) -> AcceptCandidate:
    return AcceptCandidate(np.array(doc.image), np.array(image, np.uint8), doc.sketch,
                           Relayout(doc.layout.state(), layout))


def install_result(before: Result, after: Result) -> InstallResult:
    return InstallResult(before, after)
