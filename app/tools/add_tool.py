"""ADD: press-drag draws a new Gaussian over the dragged box; a click adds a default-size one."""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from gpstoken_studio.model.commands import AddToken, new_row
from gpstoken_studio.tools.base import PointerEvent, ToolOverlay

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document

DEFAULT_SIDE = 16.0  # plane pixels: the region side of a clicked-in Gaussian


def add_drag(doc: "Document", event: PointerEvent, overlay: ToolOverlay) -> Iterator[None]:
    """Previews the Gaussian as the drag sizes it; the release records one Add step."""
    index = len(doc.layout)
    start = event.position.copy()

    def command() -> AddToken:
        end = event.position if event.dragged() else start
        return AddToken(index, new_row(doc, _gaussian(doc, start, end)))

    doc.preview(command())
    doc.layout.select([index])
    yield
    while event.type == "move":
        doc.preview(command())
        yield
    doc.history.push(command())


def _gaussian(doc: "Document", a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.array_equal(a, b):
        half = DEFAULT_SIDE / 2
        return doc.plane.gaussian_for_box((a[0] - half, a[1] - half, a[0] + half, a[1] + half))
    return doc.plane.gaussian_for_box((min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])))
