"""Compiled CPU splatting (float32): per token, a loop over its clipped support box only.

The map is accumulated as ``[B, H, W, C]`` so the colour loop is contiguous (and returned as a
channels-last ``[B, C, H, W]`` view); the backward is analytic: per token it accumulates a few
weighted moments of the normalised offsets and turns them into the five geometry gradients.
Kernels are compiled once per machine (``cache=True``) and run single-threaded.
"""
from __future__ import annotations

import functools
import math

import numba
import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .grid import grid_axis

# let LLVM reorder the colour sums and fuse multiply-adds; NaN/inf semantics are kept (no nnan/ninf)
_FLAGS = {"reassoc", "contract"}
# Inside a box |u|, |w| <= support and du, dw <= 2*support, so every exponent of the recurrence is
# at most 12*s*support^2 in size; s*support^2 < 50 keeps it below 600 (no float64 under/overflow).
_RECURRENCE_LIMIT = 50.0


@numba.njit(cache=True, nogil=True)
def _axis_range(axis, mu, bound):
    """First and last pixel with ``not |axis[p] - mu| > bound``; the same rule as grid.axis_ranges."""
    n = axis.shape[0]
    half = (n - 1) * 0.5
    lo_f = (np.float64(mu) - bound + 1.0) * half
    hi_f = (np.float64(mu) + bound + 1.0) * half
    if lo_f != lo_f or hi_f != hi_f:  # NaN geometry: the test rejects nothing
        return 0, n - 1
    lo = max(int(math.floor(min(max(lo_f, -1.0), n))) - 1, 0)
    hi = min(int(math.ceil(min(max(hi_f, -1.0), n))) + 1, n - 1)
    while lo <= hi and abs(axis[lo] - mu) > bound:
        lo += 1
    while hi >= lo and abs(axis[hi] - mu) > bound:
        hi -= 1
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _token_start(t, xs, ys, c0, r0, support):
    """Offsets (u0, w0) of the box's first pixel in sigma units, the pixel steps (du, dw), rho,
    s = 1/(2(1-rho^2)), and whether v may follow the Gaussian recurrence (factors in float64 range)."""
    ix = 1.0 / np.float64(t[0])
    iy = 1.0 / np.float64(t[1])
    rho = np.float64(t[2])
    s = 0.5 / (1.0 - rho * rho)
    u0 = (xs[c0] - t[3]) * ix
    w0 = (ys[r0] - t[4]) * iy
    du = 2.0 / (xs.shape[0] - 1) * ix
    dw = 2.0 / (ys.shape[0] - 1) * iy
    return u0, w0, du, dw, rho, s, s * support * support < _RECURRENCE_LIMIT


@numba.njit(cache=True, nogil=True)
def _exponent(u, w, rho, s):
    return -s * (u * u - 2.0 * rho * u * w + w * w)


@numba.njit(cache=True, nogil=True)
def _recurrence(u0, w0, du, dw, rho, s):
    """v = exp(-s q) is quadratic in the exponent, so along the box it follows products of ratios:
    v at the first pixel, its column ratio there and its row ratio down the first column, and the
    constant factors by which the column ratio changes per column (hx) and per row (kxy), and the
    row ratio per row (hy). Five exps per token instead of one per pixel."""
    v00 = math.exp(_exponent(u0, w0, rho, s))
    gx = math.exp(-s * du * (2.0 * u0 + du - 2.0 * rho * w0))
    gy = math.exp(-s * dw * (2.0 * w0 + dw - 2.0 * rho * u0))
    return v00, gx, gy, math.exp(-2.0 * s * du * du), math.exp(-2.0 * s * dw * dw), math.exp(2.0 * s * rho * du * dw)


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def _forward(tokens, xs, ys, support, out):
    nb, nt, d = tokens.shape
    nc = d - 5
    for b in range(nb):
        for i in range(nt):
            t = tokens[b, i]
            c0, c1 = _axis_range(xs, t[3], support * t[0])
            r0, r1 = _axis_range(ys, t[4], support * t[1])
            if c0 > c1 or r0 > r1:
                continue
            u0, w, du, dw, rho, s, stepped = _token_start(t, xs, ys, c0, r0, support)
            v_row, g_row, gy, hx, hy, kxy = _recurrence(u0, w, du, dw, rho, s)
            for r in range(r0, r1 + 1):
                o = out[b, r]
                v, g, u = v_row, g_row, u0
                for c in range(c0, c1 + 1):
                    if not stepped:
                        v = math.exp(_exponent(u, w, rho, s))
                    v32 = np.float32(v)
                    for k in range(nc):
                        o[c, k] += v32 * t[5 + k]
                    v *= g
                    g *= hx
                    u += du
                v_row *= gy
                gy *= hy
                g_row *= kxy
                w += dw


@numba.njit(cache=True, nogil=True, fastmath=_FLAGS)
def _backward(tokens, xs, ys, support, grad, gtok):
    nb, nt, d = tokens.shape
    nc = d - 5
    for b in range(nb):
        for i in range(nt):
            t = tokens[b, i]
            gt = gtok[b, i]
            c0, c1 = _axis_range(xs, t[3], support * t[0])
            r0, r1 = _axis_range(ys, t[4], support * t[1])
            if c0 > c1 or r0 > r1:
                continue
            u0, w, du, dw, rho, s, stepped = _token_start(t, xs, ys, c0, r0, support)
            v_row, g_row, gy, hx, hy, kxy = _recurrence(u0, w, du, dw, rho, s)
            # sums of g*v times u, w, u^2, u*w, w^2 (u, w: offsets in sigma units; g = dL/dv)
            a_u = a_w = a_uu = a_uw = a_ww = 0.0
            for r in range(r0, r1 + 1):
                gr = grad[b, r]
                v, g, u = v_row, g_row, u0
                for c in range(c0, c1 + 1):
                    if not stepped:
                        v = math.exp(_exponent(u, w, rho, s))
                    dot = np.float32(0.0)
                    for k in range(nc):
                        dot += gr[c, k] * t[5 + k]
                    v32 = np.float32(v)
                    for k in range(nc):
                        gt[5 + k] += v32 * gr[c, k]
                    gv = v * dot
                    a_u += gv * u
                    a_w += gv * w
                    a_uu += gv * u * u
                    a_uw += gv * u * w
                    a_ww += gv * w * w
                    v *= g
                    g *= hx
                    u += du
                v_row *= gy
                gy *= hy
                g_row *= kxy
                w += dw
            # v = exp(-s q), q = u^2 - 2 rho u w + w^2, u = dx/sx, w = dy/sy, s = 1/(2(1-rho^2))
            ix = 1.0 / np.float64(t[0])
            iy = 1.0 / np.float64(t[1])
            a_q = a_uu - 2.0 * rho * a_uw + a_ww
            gt[0] = 2.0 * s * ix * (a_uu - rho * a_uw)
            gt[1] = 2.0 * s * iy * (a_ww - rho * a_uw)
            gt[2] = 2.0 * s * a_uw - 4.0 * rho * s * s * a_q
            gt[3] = 2.0 * s * ix * (a_u - rho * a_w)
            gt[4] = 2.0 * s * iy * (a_w - rho * a_u)


@numba.njit(cache=True, nogil=True)
def _to_hwc(src, dst):
    """Copy ``[B, C, H, W]`` (any strides) into ``[B, H, W, C]``, 16 columns at a time per channel."""
    nb, nc, h, w = src.shape
    for b in range(nb):
        for r in range(h):
            for c0 in range(0, w, 16):
                for k in range(nc):
                    for c in range(c0, min(c0 + 16, w)):
                        dst[b, r, c, k] = src[b, k, r, c]


@functools.lru_cache(maxsize=16)
def _axis(length: int) -> np.ndarray:
    return grid_axis(length, torch.float32).numpy()


def _channels_last(grad: torch.Tensor) -> np.ndarray:
    """The incoming gradient as a contiguous ``[B, H, W, C]`` array (a view when it already is one)."""
    hwc = grad.permute(0, 2, 3, 1)
    if hwc.is_contiguous():
        return hwc.numpy()
    out = np.empty(hwc.shape, dtype=np.float32)
    _to_hwc(grad.numpy(), out)
    return out


class _NumbaSplat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
        t = tokens.detach().contiguous()
        out = torch.zeros(t.shape[0], height, width, t.shape[2] - 5, dtype=torch.float32)
        _forward(t.numpy(), _axis(width), _axis(height), np.float32(support), out.numpy())
        ctx.save_for_backward(tokens)
        ctx.grid = (height, width, support)
        return out.permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        (tokens,) = ctx.saved_tensors
        height, width, support = ctx.grid
        t = tokens.detach().contiguous()
        gtok = torch.zeros_like(t)
        _backward(t.numpy(), _axis(width), _axis(height), np.float32(support), _channels_last(grad), gtok.numpy())
        return gtok, None, None, None


def splat_numba(tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
    """Tokens ``[B, N, 5+C]`` on the CPU -> ``[B, C, height, width]`` (channels-last strided)."""
    return _NumbaSplat.apply(tokens.to(torch.float32), height, width, support).to(tokens.dtype)
