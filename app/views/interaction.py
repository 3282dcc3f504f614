"""Pointer input -> the current tool's drag generator, with the brush cursor and tool overlay."""
from __future__ import annotations

from typing import Iterator

import numpy as np
from psygnal import Signal

from gpstoken_studio.model.document import Document
from gpstoken_studio.tools import TOOLS, Mode, PointerEvent, ToolOverlay
from gpstoken_studio.views.canvas import StudioCanvas
from gpstoken_studio.views.tool_overlay_view import ToolOverlayView


class Interaction:
    """Owns the tool mode; runs one drag generator at a time (press -> moves -> release)."""

    mode_changed = Signal(object)  # Mode
    hover = Signal(object)  # plane position (x, y) under the pointer

    def __init__(self, canvas: StudioCanvas) -> None:
        self.canvas = canvas
        self.doc: Document | None = None
        self.mode = Mode.SELECT
        self.overlay = ToolOverlay()
        self.overlay_view = ToolOverlayView(self.overlay, canvas.left.scene)
        self._drag: Iterator[None] | None = None
        self._event: PointerEvent | None = None
        canvas.on_pointer = self._on_pointer

    def set_document(self, doc: Document | None) -> None:
        self.cancel_drag()
        self.doc = doc

    def set_mode(self, mode: Mode) -> None:
        mode = Mode(mode)
        if mode != self.mode:
            self.cancel_drag()
            self.mode = mode
            self.overlay_view.show_brush(None, 0)
            self.mode_changed.emit(mode)

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def cancel_drag(self) -> None:
        """Finish a running drag as if released where it is."""
        if self._drag is not None:
            self._event.type = "release"
            self._advance()
        self.overlay.clear()

    def _on_pointer(self, kind: str, position: np.ndarray, modifiers: frozenset) -> bool:
        if self.doc is None:
            return False
        if kind == "press":
            tool = TOOLS.get(self.mode)
            empty_ok = self.mode in (Mode.BRUSH, Mode.ERASER) or (self.mode == Mode.ADD and self.doc.sketch)
            if tool is None or not len(self.doc.layout) and not empty_ok:  # an image still being partitioned
                return False
            self._event = PointerEvent("press", position, modifiers, self.canvas.pixel_size(),
                                       press_position=position.copy())
            self._drag = tool(self.doc, self._event, self.overlay)
            self._advance()
            return True
        self.hover.emit(position)
        if self.mode in (Mode.BRUSH, Mode.ERASER):
            self.overlay_view.show_brush(position, self.doc.settings.brush_radius)
        if self._drag is None:
            return False
        self._event.type = kind
        self._event.position = position
        self._event.modifiers = modifiers
        self._advance()
        return True

    def _advance(self) -> None:
        try:
            next(self._drag)
            if self._event.type == "release":  # a generator must end on release
                self._drag.close()
                self._drag = None
        except StopIteration:
            self._drag = None
