"""Sample grids: held-out images, their initial layout, the reconstruction and the refined Gaussians."""
from __future__ import annotations

import cv2
import numpy as np

from ..overlay import ELLIPSE_COLOUR, RECT_COLOUR
from ..tokens import gaussians_to_ellipses

_SHIFT = 4  # cv2 sub-pixel bits


def draw_gaussians(image: np.ndarray, gaussians: np.ndarray, colour: tuple[int, int, int] = ELLIPSE_COLOUR) -> np.ndarray:
    """A copy of uint8 RGB ``image`` (one tile) with the 1-sigma ellipses of ``gaussians [N,>=5]``."""
    out = np.array(image, dtype=np.uint8, copy=True, order="C")
    for cx, cy, a, b, theta in gaussians_to_ellipses(np.asarray(gaussians)[:, :5], out.shape[:2]).tolist():
        centre = (round(cx * 2**_SHIFT), round(cy * 2**_SHIFT))
        axes = (max(round(a * 2**_SHIFT), 1), max(round(b * 2**_SHIFT), 1))
        cv2.ellipse(out, centre, axes, float(np.degrees(theta)), 0, 360, colour, 1, cv2.LINE_AA, _SHIFT)
    return out


def sample_row(image: np.ndarray, g_init: np.ndarray, recon: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """[input | input + g_init | reconstruction | reconstruction + refined Gaussians], uint8."""
    return np.concatenate([image, draw_gaussians(image, g_init, RECT_COLOUR), recon,
                           draw_gaussians(recon, tokens)], axis=1)


def sample_grid(rows: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Rows stacked with white gaps."""
    spacer = np.full((gap, rows[0].shape[1], 3), 255, np.uint8)
    parts = []
    for r in rows:
        parts += [r, spacer]
    return np.concatenate(parts[:-1], axis=0)
