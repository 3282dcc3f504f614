"""Ellipses of g_init (editable, coloured by selection and locks) and of the refined tokens."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio import style
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutChange
from gpstoken_studio.model.result import Result
from gpstoken_studio.views.ellipse_visual import Ellipses

REBUILD = ("append", "truncate", "replace")  # layout changes that renumber slots: upload everything


class GInitEllipsesView:
    """Every g_init Gaussian as one batched visual, one slot per layout row (deleted rows are hidden).

    A drag updates only the dragged rows' slots; a selection change only the rows whose state flipped.
    """

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = Ellipses(parent=parent, width=1.3)
        self.node.order = 40
        self._selected = np.zeros(0, bool)
        doc.layout.changed.connect(self._on_layout_change)
        doc.layout.selection_changed.connect(self._on_selection_change)
        self._on_layout_change()

    def _on_layout_change(self, change: LayoutChange | None = None) -> None:
        layout = self.doc.layout
        if change is None or change.action in REBUILD:
            rows = np.arange(len(layout))
            self.node.set_data(self._ellipses(rows), *style.token_colors(layout, rows))
            self._selected = layout.selected_mask()
        elif change.indices.size:
            rows = change.indices
            self.node.set_rows(rows, self._ellipses(rows), *style.token_colors(layout, rows))
            self._selected[rows] = layout.selected_mask()[rows]

    def _on_selection_change(self, _selection=None) -> None:
        mask = self.doc.layout.selected_mask()
        if len(mask) != len(self._selected):
            return  # a rebuild is on its way (the layout changed length)
        rows = np.flatnonzero(mask != self._selected)
        self._selected = mask
        colors, fill = style.token_colors(self.doc.layout, rows)
        self.node.set_rows(rows, colors=colors, fill=fill)

    def _ellipses(self, rows: np.ndarray) -> np.ndarray:
        e = self.doc.plane.drawn_ellipses(self.doc.layout.rows(rows).geometry)
        e[self.doc.layout.deleted()[rows], 2:4] = 0.0
        return e

    def set_visible(self, visible: bool) -> None:
        self.node.visible = visible

    def close(self) -> None:
        self.doc.layout.changed.disconnect(self._on_layout_change)
        self.doc.layout.selection_changed.disconnect(self._on_selection_change)
        self.node.parent = None


class RefinedEllipsesView:
    """The engine's refined tokens (the latest result) as one batched visual."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = Ellipses(parent=parent, width=1.0)
        self.node.order = 35
        doc.events.result.connect(self._refresh)
        self._refresh(doc.result)

    def _refresh(self, result: Result | None) -> None:
        if result is None:
            self.node.set_data(np.zeros((0, 5)), style.REFINED)
        else:
            self.node.set_data(self.doc.plane.drawn_ellipses(result.tokens[:, :5]), style.REFINED)

    def set_visible(self, visible: bool) -> None:
        self.node.visible = visible

    def close(self) -> None:
        self.doc.events.result.disconnect(self._refresh)
        self.node.parent = None
