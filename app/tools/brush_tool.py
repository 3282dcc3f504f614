"""BRUSH and ERASER: paint the density bias; the stroke re-partitions at the same token count.

While painting, the stroke is previewed (the bias so far; the session re-partitions it live on its
worker); on release the document requests the stroke's re-partition, and the stroke with the layout it
leads to becomes one undo step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from gpstoken_studio.model.bias import stamp, stroke_points, union
from gpstoken_studio.model.commands import PaintBias
from gpstoken_studio.tools.base import PointerEvent, ToolOverlay

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def brush_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay, erase: bool = False) -> Iterator[None]:
    """Each move paints dabs into a private copy and previews the stroke so far."""
    s = doc.settings
    start = doc.bias.values()
    work = start.copy()
    name = "Erase density" if erase else "Paint density"
    last = (float(event.position[0]), float(event.position[1]))
    box = stamp(work, last, s.brush_radius, s.brush_strength, erase)

    def command() -> PaintBias:
        x0, y0, x1, y1 = box
        return PaintBias(box, start[y0:y1, x0:x1].copy(), work[y0:y1, x0:x1].copy(), name)

    if box is not None:
        doc.preview(command())
    yield
    while event.type == "move":
        now = (float(event.position[0]), float(event.position[1]))
        for point in stroke_points(last, now, s.brush_radius):
            box = union(box, stamp(work, point, s.brush_radius, s.brush_strength, erase))
        last = now
        if box is not None:
            doc.preview(command())
        yield
    now = (float(event.position[0]), float(event.position[1]))  # the release point ends the stroke
    if now != last:
        for point in stroke_points(last, now, s.brush_radius):
            box = union(box, stamp(work, point, s.brush_radius, s.brush_strength, erase))
    if box is None:
        return
    if len(doc.layout):
        doc.request_relayout(name, bias=work, paint=command())
    else:
        doc.history.push(command())


def eraser_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    return brush_drag(doc, event, overlay, erase=True)
