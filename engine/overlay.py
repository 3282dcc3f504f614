"""Drawing a partition over its image: region rectangles and the 1-sigma ellipses of g_init."""
from __future__ import annotations

import cv2
import numpy as np

from .partition import Partition
from .tokens import gaussians_to_ellipses

RECT_COLOUR = (255, 210, 0)
ELLIPSE_COLOUR = (0, 230, 255)
_SHIFT = 4  # cv2 sub-pixel bits for ellipse centres and axes


def draw_partition(
    image: np.ndarray, partition: Partition, rectangles: bool = True, ellipses: bool = True
) -> np.ndarray:
    """A copy of uint8 RGB ``image [H, W, 3]`` with the regions and g_init 1-sigma ellipses drawn on it.

    Regions over the padding of a non-multiple image size are clipped at the image border.
    """
    out = np.array(image, dtype=np.uint8, copy=True, order="C")
    if rectangles:
        for x0, y0, x1, y1 in partition.regions.tolist():
            cv2.rectangle(out, (x0, y0), (x1, y1), RECT_COLOUR, 1)
    if ellipses:
        for cx, cy, a, b, theta in _canvas_ellipses(partition).tolist():
            centre = (round(cx * 2**_SHIFT), round(cy * 2**_SHIFT))
            axes = (max(round(a * 2**_SHIFT), 1), max(round(b * 2**_SHIFT), 1))
            cv2.ellipse(out, centre, axes, np.degrees(theta), 0, 360, ELLIPSE_COLOUR, 1, cv2.LINE_AA, _SHIFT)
    return out


def _canvas_ellipses(partition: Partition) -> np.ndarray:
    """Ellipses ``[T*N, 5]`` (cx, cy, a, b, theta) in canvas pixels from the tile-local g_init."""
    tiling = partition.tiling
    e = gaussians_to_ellipses(partition.g_init.reshape(tiling.num_tiles, -1, 5), tiling.tile_hw)
    offsets = tiling.box_offsets()
    e[..., 0] += offsets[:, None, 0]
    e[..., 1] += offsets[:, None, 1]
    return e.reshape(-1, 5)
