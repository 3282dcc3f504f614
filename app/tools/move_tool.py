"""MOVE: drag a token (or the selection it belongs to); one drag is one undo step."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from gpstoken_studio.model.commands import move_tokens, movable
from gpstoken_studio.tools.base import PointerEvent, ToolOverlay
from gpstoken_studio.tools.handles import handle_drag, hit_handle
from gpstoken_studio.tools.picking import pick

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def move_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    handle = hit_handle(doc, event.position, event.pixel_size)
    if handle is not None:
        yield from handle_drag(doc, event, *handle)
        return
    hit = pick(doc, event.position, event.pixel_size)
    if hit is None:
        return
    selection = doc.layout.selection()
    rows = selection if hit in selection else np.array([hit])
    if hit not in selection:
        doc.layout.select([hit])
    yield from move_rows(doc, event, rows)


def move_rows(doc: "Document", event: PointerEvent, rows: np.ndarray) -> Iterator[None]:
    """Previews each move, then records the move once on release."""
    idx = movable(doc, rows)
    start = event.position.copy()
    yield
    if not idx.size:
        while event.type == "move":
            yield
        return
    origin = doc.layout.rows(idx)
    moved = False
    while event.type == "move":
        if moved or event.dragged():
            doc.preview(move_tokens(doc, origin, idx, event.position - start))
            moved = True
        yield
    if moved or event.dragged():  # vispy drops moves < 10 ms apart: a quick flick may only show its release
        doc.history.push(move_tokens(doc, origin, idx, event.position - start))
