"""The reference's region complexity, bit-exact and fast: m = H**lam * h * w.

H is the entropy (bits) of the edge-magnitude histogram of a region, measured as the reference does
(facts §2): luma mapped to [0, 1], ``cv2.resize`` to 64x64 (bilinear), 3x3 Sobel in float64 with
replicated borders, magnitude, ``np.histogram`` with 512 bins on [-5.5, 5.5], p = counts/(sum+1e-5),
H = -sum p*log2(p+1e-10).

Only ``cv2.resize`` is called per region. The rest runs in one numba kernel that repeats the exact
floating-point operations of OpenCV's separable Sobel (row then column pass, same order of additions),
the exact bins of numpy's uniform histogram, numpy's log2 (through a lookup table computed by numpy)
and numpy's pairwise summation, so the result equals the reference bit for bit; the tests compare it
with a straightforward implementation of the reference on many regions.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numba
import numpy as np

GRID = 64  # every region is resampled to GRID x GRID before measuring
BINS = 512
RANGE = (-5.5, 5.5)
_SIGNED_LEVELS = (np.arange(256) / 127.5 - 1.0).astype(np.float32)  # the reference's x/127.5 - 1 per level
_LUMA_TERMS = np.stack([np.float32(c) * _SIGNED_LEVELS for c in (0.299, 0.587, 0.114)])  # float32 products
METRIC_BATCH = 16  # regions resampled and measured together (their 64x64 images stay in cache)


def unit_luma(image_rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` -> float32 ``(Y + 1) / 2`` with the reference's float32 luma Y on [-1, 1].

    Same float32 operations as ``0.299*x[..., 0] + 0.587*x[..., 1] + 0.114*x[..., 2]`` on
    ``x = (image/127.5 - 1).astype(float32)``, with the products taken from per-level tables.
    """
    out = np.empty(image_rgb.shape[:2], dtype=np.float32)
    _unit_luma(np.ascontiguousarray(image_rgb), _LUMA_TERMS, out)
    return out


def region_metrics(crops: list[np.ndarray], lam: float) -> list[float]:
    """Complexity ``H**lam * h * w`` of each float32 unit-luma crop ``[h, w]``."""
    entropies = []
    stack = np.empty((METRIC_BATCH, GRID, GRID), dtype=np.float32)
    counts = np.empty((METRIC_BATCH, BINS), dtype=np.int64)
    chunk = np.empty(METRIC_BATCH)
    full_table = _plogp_table(GRID * GRID)
    for start in range(0, len(crops), METRIC_BATCH):
        part = crops[start:start + METRIC_BATCH]
        for k, crop in enumerate(part):
            cv2.resize(crop, (GRID, GRID), dst=stack[k])
        k = len(part)
        _edge_entropies(stack[:k], full_table, counts[:k], chunk[:k])
        values = chunk[:k].tolist()
        # magnitudes above the range (never for luma in [0, 1], where |Sobel| <= sqrt(20))
        for i in np.flatnonzero(np.isnan(chunk[:k])):
            values[i] = _entropy(counts[i], _plogp_table(int(counts[i].sum())))
        entropies += values
    # float ** float is libm's pow, as for the reference's numpy float64 scalar
    return [e ** lam * c.shape[0] * c.shape[1] for e, c in zip(entropies, crops)]


@lru_cache(maxsize=64)
def _plogp_table(total: int) -> np.ndarray:
    """p*log2(p+1e-10) for every count 0..GRID*GRID of a histogram holding ``total`` values.

    Computed by numpy with the reference's expression, so the per-bin terms are numpy's own values;
    the length is padded to whole SIMD blocks so every element takes numpy's vector path.
    """
    c = np.arange(GRID * GRID + 64, dtype=np.int64)
    p = c / (np.int64(total) + 1e-5)
    return p * np.log2(p + 1e-10)


@numba.njit(cache=True, boundscheck=False, nogil=True)
def _unit_luma(image: np.ndarray, terms: np.ndarray, out: np.ndarray) -> None:
    one, half = np.float32(1.0), np.float32(0.5)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            luma = (terms[0, image[y, x, 0]] + terms[1, image[y, x, 1]]) + terms[2, image[y, x, 2]]
            out[y, x] = (luma + one) * half  # /2 and *0.5 are the same exact float32 operation


@numba.njit(cache=True, boundscheck=False, nogil=True)
def _entropy(counts: np.ndarray, plogp: np.ndarray) -> float:
    """-np.sum(plogp[counts]) over the 512 bins, in numpy's pairwise order (four blocks of 128)."""
    block = np.empty(4)
    r = np.empty(8)
    for b in range(4):
        base = 128 * b
        for j in range(8):
            r[j] = plogp[counts[base + j]]
        for i in range(base + 8, base + 128, 8):
            for j in range(8):
                r[j] += plogp[counts[i + j]]
        block[b] = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    return -(0.0 + ((block[0] + block[1]) + (block[2] + block[3])))


@numba.njit(cache=True, boundscheck=False, inline="always")
def _row_pass(row: np.ndarray, diff: np.ndarray, smooth: np.ndarray) -> None:
    """OpenCV's Sobel row filters in float64: [-1, 0, 1] -> ``diff``, [1, 2, 1] -> ``smooth`` (replicated ends)."""
    m = row.shape[0]
    a, b = np.float64(row[0]), np.float64(row[1])
    diff[0] = b - a
    smooth[0] = (a + 2.0 * a) + b
    for x in range(1, m - 1):
        left, mid, right = np.float64(row[x - 1]), np.float64(row[x]), np.float64(row[x + 1])
        diff[x] = right - left
        smooth[x] = (left + 2.0 * mid) + right
    a, b = np.float64(row[m - 2]), np.float64(row[m - 1])
    diff[m - 1] = b - a
    smooth[m - 1] = (a + 2.0 * b) + b


@numba.njit(cache=True, boundscheck=False, nogil=True)
def _edge_entropies(stack: np.ndarray, plogp_full: np.ndarray, counts: np.ndarray, entropies: np.ndarray) -> None:
    """Edge histogram ``counts[k]`` of each float32 image ``stack[k]`` and its entropy ``entropies[k]``.

    The histogram is np.histogram(|Sobel|, 512 bins on [-5.5, 5.5]). The entropy uses the table for
    full histograms; where magnitudes fell above 5.5 it is NaN, for the caller to finish.
    """
    n_img, n, m = stack.shape
    width = (RANGE[1] - RANGE[0]) / BINS
    per_width = BINS / (RANGE[1] - RANGE[0])
    zero_bin = BINS // 2  # magnitudes are >= 0: bins start at the edge 0.0
    diff = np.empty((3, m))  # ring of three row-pass results: rows y-1, y, y+1
    smooth = np.empty((3, m))
    index = np.empty(m, np.int64)
    sub = np.zeros((8, BINS + 1), np.int32)  # 8 sub-histograms keep increments independent; bin 512 = dropped
    for k in range(n_img):
        img = stack[k]
        sub[:] = 0
        _row_pass(img[0], diff[0], smooth[0])  # row -1 replicates row 0
        _row_pass(img[0], diff[1], smooth[1])
        for y in range(n):
            up, mid, down = y % 3, (y + 1) % 3, (y + 2) % 3
            _row_pass(img[min(y + 1, n - 1)], diff[down], smooth[down])
            dxu, dxm, dxd, syu, syd = diff[up], diff[mid], diff[down], smooth[up], smooth[down]
            for x in range(m):
                gx = 2.0 * dxm[x] + (dxd[x] + dxu[x])  # column [1, 2, 1]: centre first, as OpenCV
                gy = syd[x] - syu[x]  # column [-1, 0, 1]
                v = np.sqrt(gx * gx + gy * gy)
                # np.histogram puts v in the bin whose exact edges hold it: edge j above zero is
                # j*width exactly, so estimate j and correct it by one against the exact edges
                j = np.int64(v * per_width)
                fj = np.float64(j)
                j = j - np.int64(v < fj * width) + np.int64(v >= (fj + 1.0) * width)
                index[x] = min(zero_bin + j, BINS - 1) if v <= RANGE[1] else BINS
            for x in range(0, m, 8):
                for s in range(8):
                    sub[s, index[x + s]] += 1
        total = 0
        for i in range(BINS):
            c = 0
            for s in range(8):
                c += sub[s, i]
            counts[k, i] = c
            total += c
        entropies[k] = _entropy(counts[k], plogp_full) if total == n * m else np.nan
