"""Which token is under a point, inside a box or inside a lasso (plane pixels)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gpstoken_studio.model.plane import ELLIPSE_SIGMAS, mahalanobis
from gpstoken_studio.tools.base import PICK_RADIUS

if TYPE_CHECKING:
    from gpstoken_studio.model.document import Document


def pick(doc: "Document", point: np.ndarray, pixel_size: float = 1.0) -> int | None:
    """The smallest live ellipse containing ``point``, else the nearest centre within the pick radius."""
    live = doc.layout.live()
    if not live.size:
        return None
    g = doc.layout.geometry()[live]
    inside = mahalanobis(g, point, doc.plane) <= ELLIPSE_SIGMAS
    if inside.any():
        s = doc.plane.sigmas_px(g)
        area = np.where(inside, s[:, 0] * s[:, 1], np.inf)
        return int(live[int(np.argmin(area))])
    d = np.hypot(*(doc.plane.centers(g) - np.asarray(point)[None, :]).T)
    k = int(np.argmin(d))
    return int(live[k]) if d[k] <= PICK_RADIUS * pixel_size else None


def in_box(doc: "Document", box: tuple[float, float, float, float]) -> np.ndarray:
    """Live rows whose centre lies in the box (any corner order)."""
    live = doc.layout.live()
    c = doc.plane.centers(doc.layout.geometry()[live])
    x0, x1 = sorted((box[0], box[2]))
    y0, y1 = sorted((box[1], box[3]))
    ok = (c[:, 0] >= x0) & (c[:, 0] <= x1) & (c[:, 1] >= y0) & (c[:, 1] <= y1)
    return live[ok]


def in_polygon(doc: "Document", polygon: np.ndarray) -> np.ndarray:
    """Live rows whose centre lies inside ``polygon [K, 2]`` (even-odd rule)."""
    live = doc.layout.live()
    poly = np.asarray(polygon, dtype=np.float64)
    if len(poly) < 3 or not live.size:
        return live[:0]
    c = doc.plane.centers(doc.layout.geometry()[live])
    x, y = c[:, 0:1], c[:, 1:2]
    x0, y0 = poly[:, 0][None, :], poly[:, 1][None, :]
    x1, y1 = np.roll(poly[:, 0], -1)[None, :], np.roll(poly[:, 1], -1)[None, :]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xcross = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    inside = (crosses & (x < xcross)).sum(axis=1) % 2 == 1
    return live[inside]
