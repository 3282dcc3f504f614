"""A straightforward implementation of the reference partition (facts §2), for tests and benchmarks.

It follows the reference's structure step by step: a list of candidates re-sorted (stable) before
every split, the complexity measured with cv2 + np.histogram on every new crop, bias sums with
np.sum over the crop. Tiles, padding and the output layout are the engine's (see gpstoken.partition).
"""
from __future__ import annotations

import cv2
import numpy as np


def complexity(luma: np.ndarray, lam: float) -> float:
    """H**lam * h * w of a float32 luma crop on [-1, 1]."""
    unit = (luma + 1.0) / 2.0
    h, w = unit.shape
    small = cv2.resize(unit, dsize=(64, 64))
    gx = cv2.Sobel(small, cv2.CV_64F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.Sobel(small, cv2.CV_64F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE)
    counts, _ = np.histogram(np.sqrt(gx**2 + gy**2), bins=512, range=(-5.5, 5.5))
    p = counts / (counts.sum() + 1e-5)
    entropy = -np.sum(p * np.log2(p + 1e-10))
    return entropy**lam * h * w


def split_tile(luma: np.ndarray, n: int, lam: float, min_size: int, bias: np.ndarray) -> list[tuple[int, ...]]:
    """Regions ``(y0, x0, h, w)`` of one tile in the reference's final list order."""
    h, w = luma.shape
    # candidate: [metric, (y0, x0, h, w)]
    candidates = [[complexity(luma, lam) + np.sum(bias), (0, 0, h, w)]]

    def child(y0: int, x0: int, ch: int, cw: int) -> list:
        crop = (slice(y0, y0 + ch), slice(x0, x0 + cw))
        return [complexity(luma[crop], lam) + np.sum(bias[crop]), (y0, x0, ch, cw)]

    while len(candidates) < n:
        candidates.sort(key=lambda c: c[0], reverse=True)
        for i, (_, (_, _, ch, cw)) in enumerate(candidates):  # noqa: B007 (i is the break position)
            if not (ch - 1 <= min_size and cw - 1 <= min_size):
                break
        _, (y0, x0, ch, cw) = candidates.pop(i)
        big = 1_000_000.0
        lr = tb = None
        if cw > min_size and cw >= ch:
            lr = [child(y0, x0, ch, cw // 2), child(y0, x0 + cw // 2, ch, cw - cw // 2)]
        if ch > min_size and ch >= cw:
            tb = [child(y0, x0, ch // 2, cw), child(y0 + ch // 2, x0, ch - ch // 2, cw)]
        m_lr = min(c[0] for c in lr) if lr else big
        m_tb = min(c[0] for c in tb) if tb else big
        if cw > ch or (cw == ch and m_lr < m_tb):
            candidates += lr
        else:
            candidates += tb
    return [c[1] for c in candidates]


def reference_partition(
    image: np.ndarray, n: int, lam: float = 2.5, min_size: int = 8, tile: int = 256, bias: np.ndarray | None = None
) -> np.ndarray:
    """Regions ``[T*N, 4]`` (x0, y0, x1, y1), canvas pixels, inclusive ends, tile-major."""
    x = (image / 127.5 - 1.0).astype(np.float32)
    luma = 0.299 * x[:, :, 0] + 0.587 * x[:, :, 1] + 0.114 * x[:, :, 2]
    h, w = luma.shape
    th, tw = (h, w) if tile == 0 else (tile, tile)
    ch, cw = -(-h // th) * th, -(-w // tw) * tw
    luma = np.pad(luma, ((0, ch - h), (0, cw - w)), mode="edge")
    b = np.zeros((ch, cw))
    if bias is not None:
        b[:h, :w] = bias
    out = []
    for ty in range(0, ch, th):
        for tx in range(0, cw, tw):
            crop = (slice(ty, ty + th), slice(tx, tx + tw))
            for y0, x0, rh, rw in split_tile(luma[crop], n, lam, min_size, b[crop]):
                out.append((tx + x0, ty + y0, tx + x0 + rw - 1, ty + y0 + rh - 1))
    return np.array(out, dtype=np.int64)
