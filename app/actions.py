"""One registry of user actions: id, title, menu, shortcut and callback (no Qt here).

Menus, tool buttons, tooltips and the Help > Keyboard Shortcuts list are all built from it, so a
shortcut is defined in exactly one place. Tests call actions by id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gpstoken.errors import GPSTokenError

MENUS = ("File", "Edit", "Tools", "View", "Help")
# keys that the window and the browser page share
TOOL_KEYS = {"select": "V", "lasso": "Q", "move": "M", "add": "A", "delete": "X", "brush": "B", "eraser": "E", "pan": "H"}
LAYER_KEYS = {"regions": "1", "ginit": "2", "refined": "3", "density": "4"}  # the session's layers, in its order
VIEW_KEYS = {"show_error": "5", "zoom_in": "Ctrl+=", "zoom_out": "Ctrl+-", "zoom_fit": "Ctrl+0"}  # each front-end's own view
ZOOM_STEP = 1.25  # each zoom key scales the view by this
BRUSH_STEP = 1.25  # each of [ and ] scales the brush radius by this


@dataclass(frozen=True)
class Action:
    id: str  # "studio:<name>"
    title: str
    menu: str
    callback: Callable[[], None]
    shortcut: str = ""  # Qt key sequence text, e.g. "Ctrl+Z", "[", "Delete"
    checkable: bool = False
    group: str = ""  # checkable actions in one group are exclusive (tools)
    tip: str = ""


class ActionRegistry:
    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, action: Action) -> Action:
        if action.id in self._actions:
            raise GPSTokenError(f"action {action.id!r} is registered twice")
        if action.menu not in MENUS:
            raise GPSTokenError(f"action {action.id!r}: unknown menu {action.menu!r}")
        key = action.shortcut.lower()
        clash = [a.id for a in self._actions.values() if key and a.shortcut.lower() == key]
        if clash:
            raise GPSTokenError(f"shortcut {action.shortcut!r} of {action.id!r} is already used by {clash[0]!r}")
        self._actions[action.id] = action
        return action

    def add(self, id: str, title: str, menu: str, callback: Callable[[], None], shortcut: str = "", **kw) -> Action:
        return self.register(Action(f"studio:{id}", title, menu, callback, shortcut, **kw))

    def __getitem__(self, id: str) -> Action:
        return self._actions[id if ":" in id else f"studio:{id}"]

    def __iter__(self):
        return iter(self._actions.values())

    def __len__(self) -> int:
        return len(self._actions)

    def trigger(self, id: str) -> None:
        self[id].callback()

    def in_menu(self, menu: str) -> list[Action]:
        return [a for a in self._actions.values() if a.menu == menu]

    def shortcut_table(self) -> list[tuple[str, str, str]]:
        """(menu, title, shortcut) rows for every action, in menu order: what Help lists."""
        return [(m, a.title, a.shortcut) for m in MENUS for a in self.in_menu(m)]
