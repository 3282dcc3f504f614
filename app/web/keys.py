"""The page's keyboard shortcuts and edit buttons: one table of actions (title, key combination, session
call), with the desktop window's keys (its tool and layer keys are the window's own constants). Imports
neither Panel nor Qt.

Keys the browser keeps for itself (Ctrl+R and F5 reload, Ctrl+T opens a tab, Ctrl+O / Ctrl+S ...) stay
the browser's: the page has buttons for those actions.
"""
from __future__ import annotations

from typing import Callable

from gpstoken_studio.actions import BRUSH_STEP, LAYER_KEYS, TOOL_KEYS
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.session import Session
from gpstoken_studio.tools.base import Mode

MODIFIERS = ("Ctrl", "Shift", "Alt")  # in the order a canonical combination names them
Action = Callable[[Session], object]


def canonical(combo: str) -> str:
    """A key combination in the one spelling the page sends: "shift+ctrl+z" -> "Ctrl+Shift+Z"."""
    *mods, key = combo.split("+")
    named = {m.strip().capitalize() for m in mods}
    if not named <= set(MODIFIERS) or not key:
        raise ValueError(f"not a key combination: {combo!r}")
    return "".join(f"{m}+" for m in MODIFIERS if m in named) + (key.upper() if len(key) == 1 else key)


def _actions() -> dict[str, tuple[str, str, Action]]:
    rows: dict[str, tuple[str, str, Action]] = {
        "undo": ("Undo", "Ctrl+Z", Session.undo),
        "redo": ("Redo", "Ctrl+Shift+Z", Session.redo),
        "delete": ("Delete selected", "Delete", Session.delete_selected),
        "select_all": ("Select all", "Ctrl+A", Session.select_all),
        "select_none": ("Select none", "Escape", lambda s: s.select([])),
        "lock_geometry": ("Lock geometry", "L", lambda s: s.lock(LOCK_GEOMETRY, True)),
        "lock_features": ("Lock features", "Shift+L", lambda s: s.lock(LOCK_FEATURES, True)),
        "unlock": ("Unlock", "Alt+L", lambda s: s.lock(LOCK_GEOMETRY | LOCK_FEATURES, False)),
        "split": ("Split region", "S", lambda s: s.edit_regions("split")),
        "merge": ("Merge regions", "G", lambda s: s.edit_regions("merge")),
        "tokens_more": ("Double token count", "PgUp", lambda s: s.step_token_count(2.0)),
        "tokens_fewer": ("Halve token count", "PgDown", lambda s: s.step_token_count(0.5)),
        "brush_smaller": ("Smaller brush", "[", lambda s: s.scale_brush(1 / BRUSH_STEP)),
        "brush_larger": ("Larger brush", "]", lambda s: s.scale_brush(BRUSH_STEP)),
        "refine": ("Refine reconstruction", "Ctrl+Shift+R", Session.refine),
    }
    for mode, key in TOOL_KEYS.items():
        rows[f"tool_{Mode(mode).value}"] = (f"{Mode(mode).value.capitalize()} tool", key,
                                            lambda s, m=mode: s.tools.set_mode(m))
    for layer, key in LAYER_KEYS.items():
        rows[f"show_{layer}"] = (f"Show or hide {layer}", key, lambda s, k=layer: s.toggle_layer(k))
    return rows


ACTIONS = _actions()  # name -> (title, key combination, session call); the page's buttons run these too
KEYS = {canonical(key): name for name, (_title, key, _call) in ACTIONS.items()}


def run(session: Session, name: str) -> None:
    """Run the action ``name`` (a key of ACTIONS) on ``session``."""
    ACTIONS[name][2](session)


def press(session: Session, combo: str) -> bool:
    """Run the action of ``combo`` (any spelling) on ``session``; returns whether the combination has one."""
    try:
        name = KEYS.get(canonical(combo))
    except ValueError:
        return False
    if name is not None:
        run(session, name)
    return name is not None
