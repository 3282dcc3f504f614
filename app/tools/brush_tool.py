"""BRUSH and ERASER: paint the density bias; the stroke re-partitions at the same token count.

While painting, the pipeline previews live re-partitions (``Pipeline._on_bias``); the stroke's one
command, pushed on release, holds the bias patch and the layouts before and after the stroke.
"""
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
    start_layout = doc.layout.state()  # previews replace the layout during the stroke; undo returns here
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
    relayout = Relayout(start_layout, doc.partition(bias=work, locks_from=start_layout)) if len(doc.layout) else None
    doc.history.push(command(True, relayout))


def eraser_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    return brush_drag(doc, event, overlay, erase=True)
