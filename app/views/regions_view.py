"""Partition rectangles of the layout: one Line visual, segments for every box."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutChange
from gpstoken_studio.views import style


def box_segments(boxes: np.ndarray) -> np.ndarray:
    """Inclusive pixel boxes ``[M, 4]`` -> ``[8M, 2]`` segment endpoints around the pixels' edges."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    x0, y0, x1, y1 = b[:, 0] - 0.5, b[:, 1] - 0.5, b[:, 2] + 0.5, b[:, 3] + 0.5
    corners = [(x0, y0), (x1, y0), (x1, y0), (x1, y1), (x1, y1), (x0, y1), (x0, y1), (x0, y0)]
    return np.stack([np.stack(c, axis=1) for c in corners], axis=1).reshape(-1, 2)


class RegionsView:
    """Rectangles of live rows; they follow the rows' regions (moved with their Gaussians)."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = scene.visuals.Line(parent=parent, connect="segments", method="gl", color=style.REGIONS,
                                       antialias=False)
        self.node.order = 20
        self.node.set_gl_state("translucent", depth_test=False)
        doc.layout.changed.connect(self._on_layout_change)
        self._on_layout_change()

    def _on_layout_change(self, change: LayoutChange | None = None) -> None:
        live = self.doc.layout.live()
        pos = box_segments(self.doc.layout.regions()[live])
        self.node.set_data(pos=pos if len(pos) else np.zeros((2, 2), np.float32))  # empty: one zero-length segment

    def close(self) -> None:
        self.doc.layout.changed.disconnect(self._on_layout_change)
        self.node.parent = None
