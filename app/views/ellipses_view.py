"""Ellipses of g_init (editable, coloured by selection and locks) and of the refined tokens."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutChange
from gpstoken_studio.model.plane import ELLIPSE_SIGMAS
from gpstoken_studio.model.result import Result
from gpstoken_studio.views import style
from gpstoken_studio.views.ellipse_visual import Ellipses


def drawn_ellipses(doc: Document, geometry: np.ndarray) -> np.ndarray:
    """Gaussians -> ellipses at ELLIPSE_SIGMAS, in plane pixels."""
    e = doc.plane.ellipses(geometry)
    e[:, 2:4] *= ELLIPSE_SIGMAS
    return e


class GInitEllipsesView:
    """All live g_init Gaussians as one batched visual; selected ones filled, locked ones red."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = Ellipses(parent=parent, width=1.3)
        self.node.order = 40
        doc.layout.changed.connect(self._refresh)
        doc.layout.selection_changed.connect(self._refresh)
        self._refresh()

    def _refresh(self, change: LayoutChange | None = None) -> None:
        layout = self.doc.layout
        live = layout.live()
        colors = np.tile(style.GINIT, (len(live), 1))
        colors[layout.locks()[live] != 0] = style.LOCKED
        selected = layout.selected_mask()[live]
        colors[selected] = style.SELECTED
        self.node.set_data(drawn_ellipses(self.doc, layout.geometry()[live]), colors,
                           np.where(selected, style.SELECTED_FILL, 0.0))

    def close(self) -> None:
        self.doc.layout.changed.disconnect(self._refresh)
        self.doc.layout.selection_changed.disconnect(self._refresh)
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
            self.node.set_data(drawn_ellipses(self.doc, result.tokens[:, :5]), style.REFINED)

    def close(self) -> None:
        self.doc.events.result.disconnect(self._refresh)
        self.node.parent = None
