"""Quality inside and outside a region of an image, and which token centres lie in the region.

A region is a bool mask ``[H, W]`` over the image. Inside values are ``gpstoken.metrics`` with the mask,
outside values with its complement; a side that holds no pixel has no value (None).
"""
from __future__ import annotations

import numpy as np

from gpstoken.metrics import haarpsi, psnr, ssim

REGION_METRICS = {"psnr": psnr, "ssim": ssim, "haarpsi": haarpsi}
SIDES = ("inside", "outside")


def region_quality(reference: np.ndarray, test: np.ndarray, mask: np.ndarray) -> dict[str, float | None]:
    """``"<metric>_inside"`` and ``"<metric>_outside"`` for PSNR, SSIM and HaarPSI of uint8 ``[H, W, 3]`` images."""
    inside = np.asarray(mask, dtype=bool)
    out: dict[str, float | None] = {}
    for side, region in zip(SIDES, (inside, ~inside)):
        for key, metric in REGION_METRICS.items():
            out[f"{key}_{side}"] = float(metric(reference, test, region)) if region.any() else None
    return out


def centres_in_mask(centres_xy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """bool ``[K]``: which pixel centres ``(x, y)`` (pixel centres at integers) fall on a True pixel of ``mask``;
    centres off the mask's extent (the padding of a tiled plane) are outside."""
    m = np.asarray(mask, dtype=bool)
    xy = np.rint(np.asarray(centres_xy, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    h, w = m.shape
    on = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    hit = np.zeros(len(xy), bool)
    hit[on] = m[xy[on, 1], xy[on, 0]]
    return hit
