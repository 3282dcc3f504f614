"""The pointer bridge: Bokeh's pan/tap events on the canvas -> the session's tool driver.

The canvas's data coordinates are plane pixels (x right, y down; its y axis is flipped), so an event's
``x, y`` go to the tools unchanged. A tap is a press and a release at one point. Imports no Bokeh.
"""
from __future__ import annotations

from typing import Callable

from gpstoken_studio.tools.base import Mode
from gpstoken_studio.tools.driver import ToolDriver

# Bokeh's modifier keys -> the tools' names
MODIFIERS = {"shift": "shift", "ctrl": "control", "alt": "alt"}
# Bokeh event names -> pointer kinds
KINDS = {"panstart": "press", "pan": "move", "panend": "release"}


def modifier_set(modifiers: dict | None) -> frozenset:
    """Bokeh's ``{"shift": bool, "ctrl": bool, "alt": bool}`` -> the tools' modifier names."""
    return frozenset(MODIFIERS[k] for k, on in (modifiers or {}).items() if on and k in MODIFIERS)


class PointerBridge:
    """Feeds one canvas's gestures to ``driver``; ``pixel_size()`` is plane pixels per screen pixel now."""

    def __init__(self, driver: ToolDriver, pixel_size: Callable[[], float]) -> None:
        self.driver = driver
        self.pixel_size = pixel_size

    def gesture(self, name: str, x: float | None, y: float | None, modifiers: dict | None = None) -> bool:
        """One Bokeh event by name ("panstart", "pan", "panend", "tap"); returns whether a tool took it."""
        if self.driver.mode == Mode.PAN or x is None or y is None:
            return False  # the view pans itself (Bokeh's pan tool)
        keys, size = modifier_set(modifiers), self.pixel_size()
        if name == "tap":
            if self.driver.dragging:
                return False  # a tap inside a drag is the drag's own release still to come
            took = self.driver.pointer("press", (x, y), keys, size)
            return self.driver.pointer("release", (x, y), keys, size) or took
        return self.driver.pointer(KINDS[name], (x, y), keys, size)

    def connect(self, figure) -> None:
        """Route ``figure``'s pan and tap events here (Bokeh calls them on the page's thread)."""
        from bokeh import events

        for event, name in ((events.PanStart, "panstart"), (events.Pan, "pan"), (events.PanEnd, "panend"),
                            (events.Tap, "tap")):
            figure.on_event(event, lambda e, name=name: self.gesture(name, e.x, e.y, e.modifiers))
