"""Ellipse (or box) outlines rasterised on the CPU into one premultiplied RGBA image.

The same picture as the GPU path of ellipse_visual: per framebuffer pixel centre, the implicit
function f of the shape (< 0 inside, 0 on the outline) over its screen derivative (|df/dx| + |df/dy|,
what ``fwidth`` gives) makes an anti-aliased outline of constant screen width, plus an optional fill;
shapes are composited "over" in slot order. Each shape walks only the rows of its bounding box and,
for ellipses, only the span of each row that can be lit (its unfilled interior is skipped), so the
cost is the shapes' outline area, not their bounding squares. The image is built tile by tile (each
tile's float accumulator stays in cache, each tile draws only the shapes that meet it), single-threaded.
"""
from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def pixel_shapes(ellipses: np.ndarray, linear: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres in framebuffer pixels [N, 2] and pixel -> unit-shape matrices [N, 4] (row-major) of
    ``ellipses [N, 5]`` under the affine map ``p -> linear @ p + offset`` (scene -> framebuffer)."""
    n = ellipses.shape[0]
    centres = np.empty((n, 2))
    unit = np.zeros((n, 4))
    det = linear[0, 0] * linear[1, 1] - linear[0, 1] * linear[1, 0]
    if abs(det) <= 1e-12:
        return centres, unit  # all-zero unit matrices: nothing is drawn
    i00, i01, i10, i11 = linear[1, 1] / det, -linear[0, 1] / det, -linear[1, 0] / det, linear[0, 0] / det
    for i in range(n):
        x, y, t = np.float64(ellipses[i, 0]), np.float64(ellipses[i, 1]), np.float64(ellipses[i, 4])
        centres[i, 0] = linear[0, 0] * x + linear[0, 1] * y + offset[0]
        centres[i, 1] = linear[1, 0] * x + linear[1, 1] * y + offset[1]
        c, s = math.cos(t), math.sin(t)
        ia, ib = 1.0 / max(abs(ellipses[i, 2]), 1e-6), 1.0 / max(abs(ellipses[i, 3]), 1e-6)
        # n = diag(1/a, 1/b) R(-theta) linear^-1 (p - centre)
        unit[i, 0], unit[i, 1] = (c * i00 + s * i10) * ia, (c * i01 + s * i11) * ia
        unit[i, 2], unit[i, 3] = (-s * i00 + c * i10) * ib, (-s * i01 + c * i11) * ib
    return centres, unit


@numba.njit(cache=True, nogil=True)
def extent(ellipses: np.ndarray, reach: np.ndarray, linear: np.ndarray, offset: np.ndarray,
           margin: float) -> tuple[float, float, float, float, float]:
    """Union (x0, y0, x1, y1) of the shapes' bounding squares in framebuffer pixels, and the sum of
    their areas; a square is centred on the shape, ``reach`` (scene units) * the map's largest scale
    + ``margin`` pixels half wide."""
    a00 = linear[0, 0] ** 2 + linear[1, 0] ** 2
    a01 = linear[0, 0] * linear[0, 1] + linear[1, 0] * linear[1, 1]
    a11 = linear[0, 1] ** 2 + linear[1, 1] ** 2
    scale = math.sqrt(0.5 * (a00 + a11) + math.hypot(0.5 * (a00 - a11), a01))
    x0 = y0 = np.inf
    x1 = y1 = -np.inf
    area = 0.0
    for i in range(ellipses.shape[0]):
        x, y = np.float64(ellipses[i, 0]), np.float64(ellipses[i, 1])
        cx = linear[0, 0] * x + linear[0, 1] * y + offset[0]
        cy = linear[1, 0] * x + linear[1, 1] * y + offset[1]
        h = scale * reach[i] + margin
        x0, y0, x1, y1 = min(x0, cx - h), min(y0, cy - h), max(x1, cx + h), max(y1, cy + h)
        area += 4.0 * h * h
    return x0, y0, x1, y1, area


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _span(a00: float, a01: float, a11: float, dy: float, radius: float) -> tuple[float, float]:
    """dx interval where the quadratic form (a00, a01, a11) of (dx, dy) is at most radius^2 (empty: lo > hi)."""
    b = a01 * dy
    disc = b * b - a00 * (a11 * dy * dy - radius * radius)
    if disc < 0.0 or a00 <= 0.0:
        return 1.0, -1.0
    root = math.sqrt(disc)
    return (-b - root) / a00, (-b + root) / a00


TILE = 128  # framebuffer pixels a side; one tile's float accumulator (256 KiB) stays in cache


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _frame(unit, i, half, box):
    """Per shape: the inverse of its unit matrix (pixel offsets of the unit shape's axes), the largest
    fwidth bound s and the radii in unit-shape space beyond / within which nothing is lit."""
    k00, k01, k10, k11 = unit[i, 0], unit[i, 1], unit[i, 2], unit[i, 3]
    det = k00 * k11 - k01 * k10
    if det == 0.0 or not math.isfinite(det):
        return 0.0, 0.0, 0.0, 0.0, -1.0
    l00, l01, l10, l11 = k11 / det, -k01 / det, -k10 / det, k00 / det
    if box:
        reach = 1.0 + half * max(abs(k00) + abs(k01), abs(k10) + abs(k11))
        return reach * (abs(l00) + abs(l01)), reach * (abs(l10) + abs(l11)), reach, 0.0, 1.0
    # |f| / fwidth >= half wherever |n| <= r_in or |n| >= r_out, as fwidth = |2 K^T n|_1 <= 2 |n| s with
    # s the smaller of sqrt(2) * (largest singular value of K) and the sum of K's column norms
    a00, a01, a11 = k00 * k00 + k10 * k10, k00 * k01 + k10 * k11, k01 * k01 + k11 * k11
    sigma = math.sqrt(0.5 * (a00 + a11) + math.hypot(0.5 * (a00 - a11), a01))
    ms = half * min(math.sqrt(2.0) * sigma, math.hypot(k00, k10) + math.hypot(k01, k11))
    r_out = ms + math.sqrt(ms * ms + 1.0)
    r_in = math.sqrt(ms * ms + 1.0) - ms
    return r_out * math.hypot(l00, l01), r_out * math.hypot(l10, l11), r_out, r_in, 1.0


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _bounds(centres, unit, colors, half, box, rect):
    """Inclusive pixel bounds [N, 4] (x0, y0, x1, y1) of every lit shape clipped to rect (empty: x0 > x1)."""
    n = centres.shape[0]
    bounds = np.empty((n, 4), np.int64)
    for i in range(n):
        hx, hy, _, _, ok = _frame(unit, i, half, box)
        cx, cy = centres[i, 0], centres[i, 1]
        if ok < 0.0 or colors[i, 3] <= 0.0 or not (math.isfinite(cx) and math.isfinite(cy)):
            bounds[i, 0], bounds[i, 2] = 1, 0
            bounds[i, 1], bounds[i, 3] = 1, 0
            continue
        bounds[i, 0] = max(int(math.ceil(max(cx - hx - 0.5, -1e9))), rect[0])
        bounds[i, 1] = max(int(math.ceil(max(cy - hy - 0.5, -1e9))), rect[1])
        bounds[i, 2] = min(int(math.floor(min(cx + hx - 0.5, 1e9))), rect[2] - 1)
        bounds[i, 3] = min(int(math.floor(min(cy + hy - 0.5, 1e9))), rect[3] - 1)
    return bounds


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def _draw(i, centres, unit, colors, fill, half, box, b, accum):
    """Composite shape i over ``accum``, whose pixel [0, 0] is framebuffer pixel (b[0], b[1]), within
    the inclusive pixel bounds b = (x0, y0, x1, y1)."""
    _, _, r_out, r_in, _ = _frame(unit, i, half, box)
    k00, k01, k10, k11 = unit[i, 0], unit[i, 1], unit[i, 2], unit[i, 3]
    cx, cy = centres[i, 0], centres[i, 1]
    alpha = colors[i, 3]
    f_in = fill[i] * alpha
    r, g, bl = colors[i, 0], colors[i, 1], colors[i, 2]
    a00, a01, a11 = k00 * k00 + k10 * k10, k00 * k01 + k10 * k11, k01 * k01 + k11 * k11
    skip_inside = f_in <= 0.0 and r_in > 0.0
    for y in range(b[1], b[3] + 1):
        dy = y + 0.5 - cy
        lo, hi = b[0], b[2]
        in_lo, in_hi = 1, 0  # columns skipped (inside, unlit)
        if not box:
            a, z = _span(a00, a01, a11, dy, r_out)
            if a > z:
                continue
            lo = max(lo, int(math.ceil(cx + a - 0.5)))
            hi = min(hi, int(math.floor(cx + z - 0.5)))
            if skip_inside:
                a, z = _span(a00, a01, a11, dy, r_in)
                if a <= z:
                    in_lo = int(math.ceil(cx + a - 0.5))
                    in_hi = int(math.floor(cx + z - 0.5))
        ry, rx = y - b[4], b[5]
        if box:
            _box_row(accum, ry, lo - rx, hi - rx, lo + 0.5 - cx, dy, k00, k01, k10, k11, half, alpha, f_in, r, g, bl)
        elif in_lo > in_hi:
            _ellipse_row(accum, ry, lo - rx, hi - rx, lo + 0.5 - cx, dy, k00, k01, k10, k11, half, alpha, f_in, r, g,
                         bl)
        else:
            _ellipse_row(accum, ry, lo - rx, min(hi, in_lo - 1) - rx, lo + 0.5 - cx, dy, k00, k01, k10, k11, half,
                         alpha, f_in, r, g, bl)
            start = max(lo, in_hi + 1)
            _ellipse_row(accum, ry, start - rx, hi - rx, start + 0.5 - cx, dy, k00, k01, k10, k11, half,
                         alpha, f_in, r, g, bl)


# Row loops over pixels first..last of accumulator row ry, in float32, branch-free; dx0, dy: offsets of
# the first pixel's centre from the shape's centre. Inputs are finite (checked in _bounds).
@numba.njit(cache=True, nogil=True, fastmath=True)
def _ellipse_row(accum, ry, first, last, dx0, dy, k00, k01, k10, k11, half, alpha, f_in, r, g, b) -> None:
    f32 = np.float32
    nx, ny = f32(k00 * dx0 + k01 * dy), f32(k10 * dx0 + k11 * dy)  # unit-shape position, per pixel + (k00, k10)
    sx, sy = f32(k00), f32(k10)
    gx, gy = f32(2.0 * (nx * k00 + ny * k10)), f32(2.0 * (nx * k01 + ny * k11))  # gradient, per pixel + (dgx, dgy)
    dgx, dgy = f32(2.0 * (k00 * k00 + k10 * k10)), f32(2.0 * (k00 * k01 + k10 * k11))
    h, al, fi, rr, gg, bb = f32(half), f32(alpha), f32(f_in), f32(r), f32(g), f32(b)
    for j in range(last - first + 1):
        t = f32(j)
        x, y = nx + t * sx, ny + t * sy
        fw = abs(gx + t * dgx) + abs(gy + t * dgy)
        _over(accum, ry, first + j, x * x + y * y - f32(1.0), fw, h, al, fi, rr, gg, bb)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _box_row(accum, ry, first, last, dx0, dy, k00, k01, k10, k11, half, alpha, f_in, r, g, b) -> None:
    f32 = np.float32
    wx, wy = f32(abs(k00) + abs(k01)), f32(abs(k10) + abs(k11))  # fwidth of |nx|, |ny|
    h, al, fi, rr, gg, bb = f32(half), f32(alpha), f32(f_in), f32(r), f32(g), f32(b)
    for j in range(last - first + 1):
        dx = dx0 + j
        nx, ny = f32(abs(k00 * dx + k01 * dy)), f32(abs(k10 * dx + k11 * dy))
        _over(accum, ry, first + j, max(nx, ny) - f32(1.0), wx if nx >= ny else wy, h, al, fi, rr, gg, bb)


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _over(accum, y, x, f, fw, half, alpha, f_in, r, g, b) -> None:
    """Composite pixel (y, x)'s anti-aliased outline (and fill inside; f < 0 there) "over" it (float32)."""
    zero, one = np.float32(0.0), np.float32(1.0)
    edge = min(max(half - abs(f) / max(fw, np.float32(1e-9)), zero), one)
    a = max(edge * alpha, f_in if f < zero else zero)
    keep = one - a
    accum[y, x, 0] = accum[y, x, 0] * keep + a * r
    accum[y, x, 1] = accum[y, x, 1] * keep + a * g
    accum[y, x, 2] = accum[y, x, 2] * keep + a * b
    accum[y, x, 3] = accum[y, x, 3] * keep + a


@numba.njit(cache=True, nogil=True, fastmath={"contract"})
def rasterise(centres, unit, colors, fill, width, box, rect, out) -> None:
    """Composite every shape "over" in slot order into ``out [H, W, 4]`` (premultiplied uint8), which
    covers the framebuffer pixels ``rect`` = (x0, y0, x1, y1); tile by tile, each tile drawing only
    the shapes whose bounds meet it."""
    half = 0.5 * width + 0.5  # half the lit band, pixels (edge > 0 within it)
    bounds = _bounds(centres, unit, colors, half, box, rect)
    x0, y0 = rect[0], rect[1]
    tiles_x = (rect[2] - x0 + TILE - 1) // TILE
    tiles_y = (rect[3] - y0 + TILE - 1) // TILE
    # shapes of each tile, in slot order (compressed rows)
    starts = np.zeros(tiles_x * tiles_y + 1, np.int64)
    for p in range(2):
        if p == 1:
            for t in range(tiles_x * tiles_y):
                starts[t + 1] += starts[t]
            members = np.empty(starts[-1], np.int64)
            fillp = starts[:-1].copy()
        for i in range(centres.shape[0]):
            if bounds[i, 0] > bounds[i, 2] or bounds[i, 1] > bounds[i, 3]:
                continue
            for ty in range((bounds[i, 1] - y0) // TILE, (bounds[i, 3] - y0) // TILE + 1):
                for tx in range((bounds[i, 0] - x0) // TILE, (bounds[i, 2] - x0) // TILE + 1):
                    t = ty * tiles_x + tx
                    if p == 0:
                        starts[t + 1] += 1
                    else:
                        members[fillp[t]] = i
                        fillp[t] += 1
    accum = np.empty((TILE, TILE, 4), np.float32)
    clip = np.empty(6, np.int64)
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            ax, ay = x0 + tx * TILE, y0 + ty * TILE
            bx, by = min(ax + TILE, rect[2]), min(ay + TILE, rect[3])
            t = ty * tiles_x + tx
            if starts[t] == starts[t + 1]:
                out[ay - y0:by - y0, ax - x0:bx - x0] = 0
                continue
            accum[:] = 0.0
            for m in range(starts[t], starts[t + 1]):
                i = members[m]
                clip[0], clip[1] = max(bounds[i, 0], ax), max(bounds[i, 1], ay)
                clip[2], clip[3] = min(bounds[i, 2], bx - 1), min(bounds[i, 3], by - 1)
                clip[4], clip[5] = ay, ax
                _draw(i, centres, unit, colors, fill, half, box, clip, accum)
            _store(accum, out, ay - y0, ax - x0, by - ay, bx - ax)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _store(accum, out, oy, ox, h, w) -> None:
    """The top-left h x w of the accumulator, clamped and rounded to bytes, into out at (oy, ox)."""
    for y in range(h):
        for x in range(w):
            for c in range(4):
                v = min(max(accum[y, x, c], np.float32(0.0)), np.float32(1.0))
                out[oy + y, ox + x, c] = np.uint8(v * np.float32(255.0) + np.float32(0.5))
