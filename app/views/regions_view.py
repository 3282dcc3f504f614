"""Partition rectangles of the layout: one box-outline visual, one slot per layout row."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutChange
from gpstoken_studio import style
from gpstoken_studio.views.ellipse_visual import Ellipses
from gpstoken_studio.views.ellipses_view import REBUILD


def box_shapes(boxes: np.ndarray) -> np.ndarray:
    """Inclusive pixel boxes ``[M, 4]`` -> shapes ``[M, 5]`` (cx, cy, half width, half height, 0) around
    the pixels' edges."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, (b[:, 2] - b[:, 0] + 1) / 2,
                     (b[:, 3] - b[:, 1] + 1) / 2, np.zeros(len(b), np.float32)], axis=1)


class RegionsView:
    """Rectangles of live rows; they follow the rows' regions (moved with their Gaussians)."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = Ellipses(parent=parent, width=1.0, shape="box")
        self.node.order = 20
        doc.layout.changed.connect(self._on_layout_change)
        self._on_layout_change()

    def _on_layout_change(self, change: LayoutChange | None = None) -> None:
        layout = self.doc.layout
        if change is None or change.action in REBUILD:
            rows = np.arange(len(layout))
            self.node.set_data(self._shapes(rows), self._colors(rows))
        elif change.action != "locks" and change.indices.size:
            rows = change.indices
            self.node.set_rows(rows, self._shapes(rows), self._colors(rows))

    def _shapes(self, rows: np.ndarray) -> np.ndarray:
        shapes = box_shapes(self.doc.layout.regions()[rows])
        shapes[self.doc.layout.deleted()[rows], 2:4] = 0.0
        return shapes

    def _colors(self, rows: np.ndarray) -> np.ndarray:
        colors = np.tile(np.asarray(style.REGIONS, np.float32), (len(rows), 1))
        colors[self.doc.layout.deleted()[rows], 3] = 0.0
        return colors

    def set_visible(self, visible: bool) -> None:
        self.node.visible = visible

    def close(self) -> None:
        self.doc.layout.changed.disconnect(self._on_layout_change)
        self.node.parent = None
