"""The reconstruction (or its error heatmap, on a scale that adapts or a fixed one), and the swipe overlay."""
from __future__ import annotations

import numpy as np
from psygnal import Signal
from vispy import scene

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.result import Result
from gpstoken_studio import style
from gpstoken_studio.views.image_view import pixel_image


class ReconstructionView:
    """Right-hand view: the latest reconstruction, or ``mode = "error"`` for the heatmap."""

    MODES = ("reconstruction", "error")
    scale_changed = Signal(object)  # (low, high) of the error colours

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        h, w = doc.image_size
        self.recon = pixel_image(parent, np.zeros((h, w, 3), np.float32), clim=(0.0, 1.0))
        self.error = pixel_image(parent, np.zeros((h, w), np.float32), cmap=style.ERROR_CMAP, clim=style.ERROR_SCALE)
        self.mode = "reconstruction"
        self.fixed_scale = False
        self.scale = style.ERROR_SCALE
        doc.events.result.connect(self._refresh)
        self._refresh(doc.result)

    def set_mode(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}")
        self.mode = mode
        self._refresh(self.doc.result)

    def set_fixed_scale(self, fixed: bool) -> None:
        self.fixed_scale = bool(fixed)
        self._refresh(self.doc.result)

    def _refresh(self, result: Result | None) -> None:
        has = result is not None
        self.recon.visible = has and self.mode == "reconstruction"
        self.error.visible = has and self.mode == "error"
        if not has:
            return
        if self.mode == "reconstruction":
            self.recon.set_data(result.reconstruction)
        else:
            error = style.error_map(self.doc.image, result.reconstruction)
            self.error.set_data(error)
            scale = style.error_scale(error, self.fixed_scale)
            self.error.clim = scale
            if scale != self.scale:
                self.scale = scale
                self.scale_changed.emit(scale)

    def close(self) -> None:
        self.doc.events.result.disconnect(self._refresh)
        self.recon.parent = None
        self.error.parent = None


class SwipeView:
    """On the original: the reconstruction left of ``position`` (0..1 of the width), with a marker line."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.position = 0.0
        self.node = pixel_image(parent, np.zeros((2, 2, 3), np.float32), clim=(0.0, 1.0))
        self.node.order = 15
        self.line = scene.visuals.Line(parent=parent, color=style.SWIPE_LINE, width=2, method="gl")
        self.line.order = 16
        self.line.set_gl_state("translucent", depth_test=False)
        doc.events.result.connect(self._refresh)
        self._refresh(doc.result)

    def set_position(self, position: float) -> None:
        self.position = float(np.clip(position, 0.0, 1.0))
        self._refresh(self.doc.result)

    def _refresh(self, result: Result | None) -> None:
        h, w = self.doc.image_size
        cols = int(round(self.position * w))
        show = result is not None and cols > 0
        self.node.visible = show
        self.line.visible = cols > 0
        if show:
            self.node.set_data(np.ascontiguousarray(result.reconstruction[:, :cols]))
        if cols > 0:
            self.line.set_data(pos=np.array([[cols - 0.5, -0.5], [cols - 0.5, h - 0.5]], np.float32))

    def close(self) -> None:
        self.doc.events.result.disconnect(self._refresh)
        self.node.parent = None
        self.line.parent = None
