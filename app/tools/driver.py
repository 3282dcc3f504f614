"""The tool driver without Qt: the tool mode and the one drag generator that pointer events advance.

Front-ends translate their pointer input into plane pixels and call ``pointer``; the Qt canvas and the
browser page drive the same tools this way.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
from psygnal import Signal

from gpstoken_studio.model.document import Document
from gpstoken_studio.tools.base import Mode, PointerEvent, ToolOverlay
from gpstoken_studio.tools.registry import TOOLS


class ToolDriver:
    """Owns the tool mode; runs one drag generator at a time (press -> moves -> release)."""

    mode_changed = Signal(object)  # Mode

    def __init__(self) -> None:
        self.doc: Document | None = None
        self.mode = Mode.SELECT
        self.overlay = ToolOverlay()
        self._drag: Iterator[None] | None = None
        self._event: PointerEvent | None = None

    def set_document(self, doc: Document | None) -> None:
        self.cancel_drag()
        self.doc = doc

    def set_mode(self, mode: Mode | str) -> None:
        mode = Mode(mode)
        if mode != self.mode:
            self.cancel_drag()
            self.mode = mode
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

    def pointer(self, kind: str, position, modifiers: frozenset = frozenset(), pixel_size: float = 1.0) -> bool:
        """One pointer event ("press", "move", "release") at ``position`` (plane pixels x, y); returns
        whether a tool took it."""
        position = np.asarray(position, dtype=np.float64)
        if self.doc is None:
            return False
        if kind == "press":
            self.cancel_drag()
            tool = TOOLS.get(self.mode)
            empty_ok = self.mode in (Mode.BRUSH, Mode.ERASER) or (self.mode == Mode.ADD and self.doc.sketch)
            if tool is None or not len(self.doc.layout) and not empty_ok:  # an image still being partitioned
                return False
            self._event = PointerEvent("press", position, frozenset(modifiers), pixel_size,
                                       press_position=position.copy())
            self._drag = tool(self.doc, self._event, self.overlay)
            self._advance()
            return True
        if self._drag is None:
            return False
        self._event.type = kind
        self._event.position = position
        self._event.modifiers = frozenset(modifiers)
        self._event.pixel_size = pixel_size
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
