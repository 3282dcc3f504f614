"""Tool feedback: rubber band, lasso path and the brush outline under the pointer."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.tools.base import ToolOverlay
from gpstoken_studio import style
from gpstoken_studio.views.ellipse_visual import Ellipses


class ToolOverlayView:
    def __init__(self, overlay: ToolOverlay, parent: scene.Node) -> None:
        self.overlay = overlay
        self.path = scene.visuals.Line(parent=parent, color=style.TOOL, method="gl", width=1)
        self.path.order = 60
        self.path.set_gl_state("translucent", depth_test=False)
        self.path.visible = False
        self.cursor = Ellipses(parent=parent, width=1.5)
        self.cursor.order = 61
        overlay.changed.connect(self._refresh)

    def _refresh(self) -> None:
        o = self.overlay
        if o.box is not None:
            x0, y0, x1, y1 = o.box
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], np.float32)
        elif o.path is not None and len(o.path) > 1:
            pts = np.vstack([o.path, o.path[:1]]).astype(np.float32)
        else:
            pts = None
        self.path.visible = pts is not None
        if pts is not None:
            self.path.set_data(pos=pts)

    def show_brush(self, center: np.ndarray | None, radius: float) -> None:
        if center is None:
            self.cursor.set_data(np.zeros((0, 5)), style.TOOL)
        else:
            self.cursor.set_data(np.array([[center[0], center[1], radius, radius, 0.0]]), style.TOOL)

    def close(self) -> None:
        self.overlay.changed.disconnect(self._refresh)
        self.path.parent = None
        self.cursor.parent = None
