"""QActions and menus built from the action registry."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow

from gpstoken_studio.actions import MENUS, ActionRegistry


def build_qactions(registry: ActionRegistry, window: QMainWindow) -> dict[str, QAction]:
    """One QAction per registered action (shortcut in its tooltip), placed in the menu bar."""
    qactions: dict[str, QAction] = {}
    groups: dict[str, QActionGroup] = {}
    menus = {name: window.menuBar().addMenu(f"&{name}") for name in MENUS}
    for action in registry:
        qa = QAction(action.title, window)
        if action.shortcut:
            qa.setShortcut(QKeySequence(action.shortcut))
        tip = action.tip or action.title
        qa.setToolTip(f"{tip} ({action.shortcut})" if action.shortcut else tip)
        qa.setStatusTip(tip)
        if action.checkable:
            qa.setCheckable(True)
        if action.group:
            group = groups.setdefault(action.group, QActionGroup(window))
            group.setExclusive(True)
            group.addAction(qa)
        qa.triggered.connect(lambda _checked=False, cb=action.callback: cb())
        menus[action.menu].addAction(qa)
        window.addAction(qa)  # shortcuts work even when the menu bar is hidden
        qactions[action.id] = qa
    return qactions
