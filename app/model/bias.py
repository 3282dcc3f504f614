"""The painted density bias: a per-pixel map in [0, 1] over the image, with a soft round brush.

The partition receives ``values * gain`` (see ``Settings.bias_gain``): the reference adds the sum of
the map over a region to that region's split metric, so painted areas attract splits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from psygnal import Signal

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), x1/y1 exclusive


@dataclass(frozen=True)
class BiasChange:
    """The pixels in ``box`` changed; ``final`` False while a stroke is still being painted."""

    box: Box
    final: bool = True


class BiasMap:
    """float32 ``[H, W]`` density bias; the sole writer of its array."""

    changed = Signal(BiasChange)

    def __init__(self, shape: tuple[int, int], values: np.ndarray | None = None) -> None:
        self._v = np.zeros(shape, np.float32) if values is None else np.array(values, np.float32)
        if self._v.shape != tuple(shape):
            raise ValueError(f"bias map must be {shape}, got {self._v.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        return self._v.shape

    def values(self) -> np.ndarray:
        return self._v.copy()

    def patch(self, box: Box) -> np.ndarray:
        x0, y0, x1, y1 = box
        return self._v[y0:y1, x0:x1].copy()

    def set_patch(self, box: Box, values: np.ndarray, *, final: bool = True) -> None:
        x0, y0, x1, y1 = box
        self._v[y0:y1, x0:x1] = values
        self.changed.emit(BiasChange(tuple(box), final))

    def painted(self) -> bool:
        """Whether any pixel is painted."""
        return bool(self._v.any())

    def mask(self) -> np.ndarray:
        """bool ``[H, W]``: where anything is painted."""
        return self._v > 0


def stamp(values: np.ndarray, center: tuple[float, float], radius: float, strength: float = 1.0,
          erase: bool = False) -> Box | None:
    """Paint one soft disc into ``values`` in place and return the touched box (None if off-image).

    Painting raises pixels towards ``strength`` (max, so repeated dabs do not pile up); erasing
    scales them down by the same falloff.
    """
    h, w = values.shape
    r = max(float(radius), 0.5)
    x0, x1 = max(int(np.floor(center[0] - r)), 0), min(int(np.ceil(center[0] + r)) + 1, w)
    y0, y1 = max(int(np.floor(center[1] - r)), 0), min(int(np.ceil(center[1] + r)) + 1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.hypot(xx - center[0], yy - center[1]) / r
    falloff = np.clip(1.5 - 1.5 * d, 0.0, 1.0)  # flat core, soft last third
    region = values[y0:y1, x0:x1]
    if erase:
        region *= 1.0 - falloff
    else:
        np.maximum(region, strength * falloff, out=region)
    return x0, y0, x1, y1


def stroke_points(a: tuple[float, float], b: tuple[float, float], radius: float) -> list[tuple[float, float]]:
    """Dab centres from ``a`` (exclusive) to ``b`` (inclusive), spaced a third of the radius apart."""
    dist = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    n = max(1, int(np.ceil(dist / max(radius / 3, 0.5))))
    return [(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(1, n + 1)]


def union(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
