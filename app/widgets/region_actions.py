"""Split and Merge of the selection: enabled only where they apply; the reason why not is their status tip."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction

from gpstoken.errors import GPSTokenError
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.region_edits import REGION_EDITS, apply_region_edit

if TYPE_CHECKING:
    from gpstoken_studio.widgets.status_bar import StudioStatusBar

TIPS = {"split": "Split the selected token's region in two (the partition's rule)",
        "merge": "Merge two selected adjacent regions into one"}


class RegionActions:
    """Runs the split/merge commands for the window's document and keeps their QActions' state."""

    def __init__(self, status: "StudioStatusBar") -> None:
        self.status = status
        self.doc: Document | None = None
        self.qactions: dict[str, QAction] = {}

    def bind(self, qactions: dict[str, QAction]) -> None:
        self.qactions = {name: qactions[f"studio:{name}"] for name in REGION_EDITS}
        self.refresh()

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.layout.selection_changed.disconnect(self.refresh)
            self.doc.layout.changed.disconnect(self._on_layout_change)
        self.doc = doc
        if doc is not None:
            doc.layout.selection_changed.connect(self.refresh)
            doc.layout.changed.connect(self._on_layout_change)
        self.refresh()

    def split(self) -> bool:
        return self._run("split")

    def merge(self) -> bool:
        return self._run("merge")

    def problem(self, name: str) -> str | None:
        """Why ``name`` cannot run on the current selection, or None when it can."""
        if self.doc is None:
            return "no image is open"
        try:
            REGION_EDITS[name](self.doc, self.doc.layout.selection())
        except GPSTokenError as exc:
            return str(exc)
        return None

    def refresh(self, *_args) -> None:
        for name, qa in self.qactions.items():
            why = self.problem(name)
            qa.setEnabled(why is None)
            qa.setStatusTip(TIPS[name] if why is None else why)

    def _on_layout_change(self, change) -> None:
        if change.final:  # not on every step of a drag
            self.refresh()

    def _run(self, name: str) -> bool:
        if self.doc is None:
            return False
        try:
            message = apply_region_edit(self.doc, name)
        except GPSTokenError as exc:
            self.status.set_message(str(exc))
            return False
        self.status.set_message(message)
        return True
