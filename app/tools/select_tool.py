"""SELECT (handles, click, rubber band) and LASSO; pressing on a token without modifiers drags the selection."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from gpstoken_studio.tools.base import PointerEvent, ToolOverlay
from gpstoken_studio.tools.handles import handle_drag, hit_handle
from gpstoken_studio.tools.move_tool import move_rows
from gpstoken_studio.tools.picking import in_box, in_polygon, pick

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def selection_mode(event: PointerEvent) -> str:
    """Shift adds, Ctrl removes, otherwise replace."""
    if "shift" in event.modifiers:
        return "add"
    if "control" in event.modifiers:
        return "remove"
    return "replace"


def select_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    """A handle of the selected token resizes or rotates it; a click picks (shift/ctrl add/remove); a
    drag from empty space (or any drag with shift/ctrl) selects by rectangle."""
    mode = selection_mode(event)
    handle = hit_handle(doc, event.position, event.pixel_size) if mode == "replace" else None
    if handle is not None:
        yield from handle_drag(doc, event, *handle)
        return
    hit = pick(doc, event.position, event.pixel_size)
    if hit is not None and mode == "replace":
        if not doc.layout.selected_mask()[hit]:
            doc.layout.select([hit])
        yield from move_rows(doc, event, doc.layout.selection())
        return
    start = event.position.copy()
    yield
    while event.type == "move":
        overlay.set(box=(start[0], start[1], event.position[0], event.position[1]))
        yield
    overlay.clear()
    if event.dragged():
        doc.layout.select(in_box(doc, (start[0], start[1], event.position[0], event.position[1])), mode)
    elif hit is not None:
        doc.layout.select([hit], mode)
    elif mode == "replace":
        doc.layout.select([])


def lasso_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    """Freehand polygon: tokens whose centres it encloses are selected (shift/ctrl add/remove)."""
    mode = selection_mode(event)
    path = [event.position.copy()]
    yield
    while event.type == "move":
        path.append(event.position.copy())
        overlay.set(path=np.array(path))
        yield
    overlay.clear()
    doc.layout.select(in_polygon(doc, np.array(path)), mode)
