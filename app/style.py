"""Colours and scales of the canvas, shared by the Qt views and the browser page (numpy only: no Qt, no vispy)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY

if TYPE_CHECKING:
    from gpstoken_studio.model.layout import TokenLayout

BACKGROUND = "#16171a"
GINIT = np.array([0.30, 0.85, 1.00, 0.85], np.float32)
SELECTED = np.array([1.00, 0.82, 0.20, 1.00], np.float32)
LOCKED_GEOMETRY = np.array([1.00, 0.40, 0.30, 0.95], np.float32)
LOCKED_FEATURES = np.array([0.50, 1.00, 0.40, 0.95], np.float32)
LOCKED_BOTH = np.array([0.75, 0.55, 1.00, 0.95], np.float32)
LOCK_COLORS = np.stack([GINIT, LOCKED_GEOMETRY, LOCKED_FEATURES, LOCKED_BOTH])  # by lock bits 0..3
HANDLE = np.array([1.00, 1.00, 1.00, 0.95], np.float32)
REFINED = np.array([1.00, 0.40, 0.90, 0.75], np.float32)
GHOST = np.array([1.00, 0.55, 0.15, 0.80], np.float32)  # a layout before calibration
REGIONS = (1.0, 1.0, 1.0, 0.28)
DENSITY = np.array([1.00, 0.35, 0.10], np.float32)
DENSITY_ALPHA = 0.45
TOOL = (1.0, 1.0, 1.0, 0.9)
SWIPE_LINE = (1.0, 1.0, 1.0, 0.8)
SELECTED_FILL = 0.16
ERROR_SCALE = (0.0, 0.25)  # |reconstruction - image| in [0, 1] units: fixed so runs compare
ADAPTIVE_PERCENTILE = 99.5  # an adaptive error scale tops out here: a few outliers do not flatten the map
MIN_ADAPTIVE_TOP = 2 / 255  # a near-perfect reconstruction does not blow quantisation noise up to full scale
ERROR_CMAP = "viridis"  # built into vispy (its "inferno" needs matplotlib, which the editor does not depend on)


def token_colors(layout: "TokenLayout", rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outline RGBA ``[K, 4]`` and fill alpha ``[K]`` of layout rows: selection, then lock kind; deleted
    rows are transparent."""
    locks = layout.locks()[rows] & (LOCK_GEOMETRY | LOCK_FEATURES)
    colors = LOCK_COLORS[locks].copy()
    selected = layout.selected_mask()[rows]
    colors[selected] = SELECTED
    colors[layout.deleted()[rows], 3] = 0.0
    return colors, np.where(selected, SELECTED_FILL, 0.0).astype(np.float32)


def error_map(image: np.ndarray, recon01: np.ndarray) -> np.ndarray:
    """What the error view shows: mean absolute error over channels, float32 ``[H, W]``, in [0, 1] image units."""
    return np.abs(recon01 - image.astype(np.float32) / 255.0).mean(axis=2).astype(np.float32)


def error_scale(error: np.ndarray, fixed: bool) -> tuple[float, float]:
    """The colour range of an error map: ``ERROR_SCALE`` (runs compare) or one that adapts to this map."""
    if fixed:
        return ERROR_SCALE
    return 0.0, max(float(np.percentile(error, ADAPTIVE_PERCENTILE)), MIN_ADAPTIVE_TOP)
