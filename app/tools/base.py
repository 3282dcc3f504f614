"""Pointer events in plane pixels, tool modes and the tool feedback overlay."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from psygnal import Signal

CLICK_RADIUS = 6.0  # screen pixels: a press and release closer than this is a click
PICK_RADIUS = 6.0  # screen pixels: how close to a centre a click must be when no ellipse contains it


class Mode(str, enum.Enum):
    SELECT = "select"
    LASSO = "lasso"
    MOVE = "move"
    ADD = "add"
    DELETE = "delete"
    BRUSH = "brush"
    ERASER = "eraser"
    PAN = "pan"


@dataclass
class PointerEvent:
    """One pointer state; tools read ``position`` (plane pixels, x/y) and ``modifiers``."""

    type: str  # "press" | "move" | "release"
    position: np.ndarray
    modifiers: frozenset = frozenset()  # {"shift", "control", "alt"}
    pixel_size: float = 1.0  # plane pixels per screen pixel at the current zoom
    press_position: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def dragged(self) -> bool:
        """Whether the pointer moved farther than a click from where it was pressed."""
        d = float(np.hypot(*(self.position - self.press_position)))
        return d > CLICK_RADIUS * self.pixel_size


class ToolOverlay:
    """Transient tool feedback the canvas draws (rubber band, lasso path); not document state."""

    changed = Signal()

    def __init__(self) -> None:
        self.box: tuple[float, float, float, float] | None = None  # rubber band (x0, y0, x1, y1)
        self.path: np.ndarray | None = None  # lasso polygon [K, 2]

    def set(self, box=None, path=None) -> None:
        self.box, self.path = box, path
        self.changed.emit()

    def clear(self) -> None:
        if self.box is not None or self.path is not None:
            self.set()
