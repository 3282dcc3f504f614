"""DELETE: a click deletes the token under the pointer."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from gpstoken_studio.model.commands import delete_tokens
from gpstoken_studio.tools.base import PointerEvent, ToolOverlay
from gpstoken_studio.tools.picking import pick

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def delete_click(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    hit = pick(doc, event.position, event.pixel_size)
    yield
    while event.type == "move":
        yield
    if hit is not None and not event.dragged():
        cmd = delete_tokens(doc, [hit])
        if cmd is not None:
            doc.history.push(cmd)
