"""Canvas pointer input -> the session's tool driver, with the brush cursor and the tool overlay view."""
from __future__ import annotations

import numpy as np
from psygnal import Signal

from gpstoken_studio.tools import Mode
from gpstoken_studio.tools.driver import ToolDriver
from gpstoken_studio.views.canvas import StudioCanvas
from gpstoken_studio.views.tool_overlay_view import ToolOverlayView


class Interaction:
    """Feeds the canvas's pointer events (plane pixels) to ``driver``; draws its overlay and the brush."""

    hover = Signal(object)  # plane position (x, y) under the pointer

    def __init__(self, canvas: StudioCanvas, driver: ToolDriver) -> None:
        self.canvas = canvas
        self.driver = driver
        self.overlay_view = ToolOverlayView(driver.overlay, canvas.left.scene)
        driver.mode_changed.connect(lambda _mode: self.overlay_view.show_brush(None, 0))
        canvas.on_pointer = self._on_pointer

    @property
    def mode(self) -> Mode:
        return self.driver.mode

    @property
    def dragging(self) -> bool:
        return self.driver.dragging

    @property
    def overlay(self):
        return self.driver.overlay

    def _on_pointer(self, kind: str, position: np.ndarray, modifiers: frozenset) -> bool:
        doc = self.driver.doc
        if doc is None:
            return False
        if kind != "press":
            self.hover.emit(position)
            if self.mode in (Mode.BRUSH, Mode.ERASER):
                self.overlay_view.show_brush(position, doc.settings.brush_radius)
        return self.driver.pointer(kind, position, modifiers, self.canvas.pixel_size())
