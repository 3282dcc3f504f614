"""BRUSH and ERASER: paint the density bias; release re-partitions at the same token count."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from gpstoken_studio.model.bias import stamp, stroke_points, union
from gpstoken_studio.model.commands import PaintBias, Relayout
from gpstoken_studio.tools.base import PointerEvent, ToolOverlay

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def brush_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay, erase: bool = False) -> Iterator[None]:
    """Each move paints dabs into a private copy and pushes one merged PaintBias update (final=False)."""
    s = doc.settings
    start = doc.bias.values()
    work = start.copy()
    merge_id = object()
    last = (float(event.position[0]), float(event.position[1]))
    box = stamp(work, last, s.brush_radius, s.brush_strength, erase)

    def command(final: bool, relayout: Relayout | None = None) -> PaintBias:
        x0, y0, x1, y1 = box
        return PaintBias(box, start[y0:y1, x0:x1].copy(), work[y0:y1, x0:x1].copy(), relayout, final, merge_id,
                         "Erase density" if erase else "Paint density")

    if box is not None:
        doc.history.push(command(False))
    yield
    while event.type == "move":
        now = (float(event.position[0]), float(event.position[1]))
        for point in stroke_points(last, now, s.brush_radius):
            box = union(box, stamp(work, point, s.brush_radius, s.brush_strength, erase))
        last = now
        if box is not None:
            doc.history.push(command(False))
        yield
    now = (float(event.position[0]), float(event.position[1]))  # the release point ends the stroke
    if now != last:
        for point in stroke_points(last, now, s.brush_radius):
            box = union(box, stamp(work, point, s.brush_radius, s.brush_strength, erase))
    if box is None:
        return
    relayout = Relayout(doc.layout.state(), doc.partition(bias=work)) if len(doc.layout) else None
    doc.history.push(command(True, relayout))


def eraser_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    return brush_drag(doc, event, overlay, erase=True)
