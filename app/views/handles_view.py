"""The resize and rotate handles of the one selected token: dots of constant screen size."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.model.document import Document
from gpstoken_studio.tools.handles import HANDLES, handle_points, handle_target
from gpstoken_studio import style
from gpstoken_studio.views.canvas import StudioCanvas
from gpstoken_studio.views.ellipse_visual import Ellipses

DOT_RADIUS = 4.0  # screen pixels


class HandlesView:
    """Follows the selection, the selected token's geometry and the zoom; never writes the document."""

    def __init__(self, doc: Document, canvas: StudioCanvas) -> None:
        self.doc = doc
        self.canvas = canvas
        parent = canvas.left.scene
        self.stem = scene.visuals.Line(parent=parent, color=style.HANDLE, width=1, method="gl")
        self.stem.order = 50
        self.stem.set_gl_state("translucent", depth_test=False)
        self.dots = Ellipses(parent=parent, width=1.2)
        self.dots.order = 51
        doc.layout.changed.connect(self.refresh)
        doc.layout.selection_changed.connect(self.refresh)
        parent.events.transform_change.connect(self.refresh)
        self.refresh()

    @property
    def shown(self) -> bool:
        return self.dots.visible

    def refresh(self, *_args) -> None:
        row = handle_target(self.doc)
        self.dots.visible = self.stem.visible = row is not None
        if row is None:
            return
        px = self.canvas.pixel_size()
        points = handle_points(self.doc, row, px)
        centres = np.array([points[k] for k in HANDLES])
        r = DOT_RADIUS * px
        dots = np.c_[centres, np.full((len(HANDLES), 2), r), np.zeros(len(HANDLES))]
        self.dots.set_data(dots, style.HANDLE, 0.9)
        self.stem.set_data(pos=np.array([points["major"], points["rotate"]], np.float32))

    def close(self) -> None:
        self.doc.layout.changed.disconnect(self.refresh)
        self.doc.layout.selection_changed.disconnect(self.refresh)
        self.canvas.left.scene.events.transform_change.disconnect(self.refresh)
        self.stem.parent = None
        self.dots.parent = None
