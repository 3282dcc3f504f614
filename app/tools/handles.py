"""Handles on the one selected Gaussian: resize along either principal axis, or rotate.

The ellipse is drawn at ``ELLIPSE_SIGMAS``; the "major" and "minor" handles sit at the ends of its
axes, "rotate" sits ``ROTATE_OFFSET`` screen pixels beyond the major end. A resize changes one
semi-axis and keeps the other, the centre and the angle; a rotation changes only the angle
(``gaussians_to_ellipses`` / ``ellipses_to_gaussians``, clamped; the centre is kept bit-exact).
One drag is one undo step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import numpy as np

from gpstoken.tokens import MX, MY, ellipses_to_gaussians
from gpstoken_studio.model.commands import movable, reshape_tokens
from gpstoken_studio.model.plane import ELLIPSE_SIGMAS
from gpstoken_studio.tools.base import PointerEvent

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document

HANDLES = ("major", "minor", "rotate")
HANDLE_RADIUS = 7.0  # screen pixels: how close a press must be to grab a handle
ROTATE_OFFSET = 24.0  # screen pixels beyond the major-axis end
MIN_SIGMA_PX = 0.25


def handle_target(doc: "Document") -> int | None:
    """The row that shows handles: the only selected token, if its geometry may change."""
    sel = doc.layout.selection()
    if len(sel) != 1 or not movable(doc, sel).size:
        return None
    return int(sel[0])


def handle_points(doc: "Document", row: int, pixel_size: float) -> dict[str, np.ndarray]:
    """Plane positions (x, y) of the handles of ``row`` at a zoom of ``pixel_size`` plane px per screen px."""
    cx, cy, a, b, theta = doc.plane.ellipses(doc.layout.rows([row]).geometry)[0]
    u = np.array([np.cos(theta), np.sin(theta)])
    v = np.array([-u[1], u[0]])
    c = np.array([cx, cy])
    return {"major": c + ELLIPSE_SIGMAS * a * u, "minor": c + ELLIPSE_SIGMAS * b * v,
            "rotate": c + (ELLIPSE_SIGMAS * a + ROTATE_OFFSET * pixel_size) * u}


def hit_handle(doc: "Document", point: np.ndarray, pixel_size: float) -> tuple[int, str] | None:
    """(row, handle) under ``point``, or None."""
    row = handle_target(doc)
    if row is None:
        return None
    points = handle_points(doc, row, pixel_size)
    dist = {k: float(np.hypot(*(p - point))) for k, p in points.items()}
    kind = min(dist, key=dist.get)
    return (row, kind) if dist[kind] <= HANDLE_RADIUS * pixel_size else None


def dragged_geometry(doc: "Document", origin: np.ndarray, kind: str, start: np.ndarray,
                     now: np.ndarray) -> np.ndarray:
    """Geometry ``[1, 5]`` of Gaussian ``origin [1, 5]`` after dragging handle ``kind`` from ``start`` to ``now``."""
    cx, cy, a, b, theta = doc.plane.ellipses(origin)[0]
    c = np.array([cx, cy])
    u = np.array([np.cos(theta), np.sin(theta)])
    v = np.array([-u[1], u[0]])
    limit = float(max(doc.plane.size))
    if kind == "major":
        a = float(np.clip(np.dot(now - c, u) / ELLIPSE_SIGMAS, MIN_SIGMA_PX, limit))
    elif kind == "minor":
        b = float(np.clip(np.dot(now - c, v) / ELLIPSE_SIGMAS, MIN_SIGMA_PX, limit))
    else:
        d0, d1 = start - c, now - c
        theta += float(np.arctan2(d1[1], d1[0]) - np.arctan2(d0[1], d0[0]))
    g = ellipses_to_gaussians(np.array([[cx, cy, a, b, theta]]), doc.plane.size).astype(np.float32)
    g[:, [MX, MY]] = origin[:, [MX, MY]]  # the centre stays exactly where it was
    return g


def handle_drag(doc: "Document", event: PointerEvent, row: int, kind: str) -> Iterator[None]:
    """Previews each move, then records the reshape once on release."""
    before = doc.layout.rows([row])
    origin = before.geometry
    start = event.position.copy()
    moved = False

    def command():
        g = dragged_geometry(doc, origin, kind, start, event.position)
        return reshape_tokens(doc, [row], g, name=_NAMES[kind], before=before)

    yield
    while event.type == "move":
        if moved or event.dragged():
            doc.preview(command())
            moved = True
        yield
    if moved or event.dragged():
        doc.history.push(command())


_NAMES = {"major": "Resize", "minor": "Resize", "rotate": "Rotate"}
