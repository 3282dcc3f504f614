"""Document state -> the columns and images of the canvas's Bokeh glyphs (pure numpy, no Bokeh).

Canvas data coordinates are plane pixels with y down (the figure's y axis is flipped), so an
ellipse's Bokeh ``angle`` is minus its image-space angle: Bokeh measures angles counter-clockwise
in data space and rotates by ``-angle`` on screen.
"""
from __future__ import annotations

import numpy as np

from gpstoken_studio import style
from gpstoken_studio.model.document import Document


def hex_color(rgba) -> str:
    """``(r, g, b[, a])`` in 0..1 -> "#rrggbb"."""
    return "#" + "".join(f"{int(round(float(c) * 255)):02x}" for c in list(rgba)[:3])


def ellipse_columns(doc: Document, geometry: np.ndarray) -> dict[str, np.ndarray]:
    """Gaussians ``[K, >=5]`` -> Bokeh ellipse columns (x, y, width, height, angle) at ELLIPSE_SIGMAS."""
    e = doc.plane.drawn_ellipses(np.asarray(geometry)[:, :5])
    return {"x": e[:, 0], "y": e[:, 1], "width": 2 * e[:, 2], "height": 2 * e[:, 3], "angle": -e[:, 4]}


def token_columns(doc: Document, rows: np.ndarray) -> dict[str, list | np.ndarray]:
    """Layout rows -> ellipse geometry plus colour columns (``style.token_colors``: selection, then lock kind;
    deleted rows hidden)."""
    cols = ellipse_columns(doc, doc.layout.rows(rows).geometry)
    colors, fill = style.token_colors(doc.layout, rows)
    cols["color"] = [hex_color(c) for c in colors]
    cols["alpha"] = colors[:, 3].astype(np.float64)
    cols["fill"] = fill.astype(np.float64)
    return cols


def region_columns(doc: Document, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Inclusive pixel boxes of layout rows -> Bokeh rect columns around the pixels' edges (deleted: empty)."""
    b = doc.layout.regions()[rows].astype(np.float64)
    deleted = doc.layout.deleted()[rows]
    return {"x": (b[:, 0] + b[:, 2]) / 2, "y": (b[:, 1] + b[:, 3]) / 2,
            "width": np.where(deleted, 0.0, b[:, 2] - b[:, 0] + 1), "height": np.where(deleted, 0.0, b[:, 3] - b[:, 1] + 1)}


def rgba_image(rgb: np.ndarray, alpha: np.ndarray | float = 1.0) -> np.ndarray:
    """An image ``[H, W, 3]`` (uint8, or float in 0..1) -> the uint32 ``[H, W]`` that Bokeh's image_rgba takes."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        rgb = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    a = np.broadcast_to(np.clip(np.rint(np.asarray(alpha, np.float32) * 255), 0, 255).astype(np.uint8), rgb.shape[:2])
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3], out[..., 3] = rgb, a
    return out.view(np.uint32)[..., 0]


def density_image(values: np.ndarray) -> np.ndarray:
    """The painted bias ``[H, W]`` in 0..1 -> the density overlay (one colour, alpha by value)."""
    colour = np.broadcast_to((style.DENSITY * 255).astype(np.uint8), values.shape + (3,))
    return rgba_image(colour, values * style.DENSITY_ALPHA)
