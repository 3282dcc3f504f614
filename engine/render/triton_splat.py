"""Triton splatting for GPUs: tokens binned to screen tiles, one program per tile walks its token list.

Binning: a small kernel computes each token's exact support box by the rule every backend shares
(``grid.axis_ranges``, step for step); the tiles its box overlaps give (tile, token) pairs, sorted by
tile and, within a tile, by token. A program takes its list 16 pairs at a time. Forward: the colour sum
over those tokens is a [pixels, 16] x [16, C] product accumulated for all channels, stored once.
Backward: the tile's incoming gradient is loaded once; per pair the program writes the token's colour
gradient and its five geometry gradients over the tile (from weighted moments of the offsets, as the
numba backward); the pairs are summed per token.

Token values are read in their own dtype (float32, bfloat16, float16) and computed in float32.
With ``TRITON_INTERPRET=1`` set before this module is imported, the kernels run on CPU tensors.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch.autograd.function import once_differentiable

from .grid import grid_axis

TILE_H = 16
TILE_W = 16
BLOCK_T = 16  # pairs a program takes at once
_BIN_BLOCK = 128  # tokens per program of the box kernel, pairs per step of the pair kernel


@triton.jit
def _outside(axis_ptr, n, index, mu, bound):
    return tl.abs(tl.load(axis_ptr + tl.minimum(tl.maximum(index, 0), n - 1)) - mu) > bound


@triton.jit
def _axis_range(axis_ptr, n, mu, bound):
    """``grid.axis_ranges`` step for step (same float32 guess, same three exact tightening steps)."""
    half = (n - 1) / 2
    lo_f = (mu - bound + 1) * half
    hi_f = (mu + bound + 1) * half
    lo_f = tl.where(lo_f != lo_f, -1.0, tl.minimum(tl.maximum(lo_f, -1.0), n * 1.0))  # NaN: the whole axis
    hi_f = tl.where(hi_f != hi_f, n * 1.0, tl.minimum(tl.maximum(hi_f, -1.0), n * 1.0))
    lo = tl.maximum(tl.floor(lo_f).to(tl.int32) - 1, 0)
    hi = tl.minimum(tl.ceil(hi_f).to(tl.int32) + 1, n - 1)
    for _ in tl.static_range(3):
        lo += (_outside(axis_ptr, n, lo, mu, bound) & (lo <= hi)).to(tl.int32)
        hi -= (_outside(axis_ptr, n, hi, mu, bound) & (hi >= lo)).to(tl.int32)
    return tl.where(_outside(axis_ptr, n, lo, mu, bound), hi + 1, lo), hi


@triton.jit
def _box_kernel(tok_ptr, xs_ptr, ys_ptr, box_ptr, tiles_ptr, count, D, H, W, support,
                TILE_H: tl.constexpr, TILE_W: tl.constexpr, BLOCK: tl.constexpr):
    """Exact support box ``c0, c1, r0, r1`` of each token and the number of screen tiles it overlaps
    (one launch instead of ~150 small torch ops)."""
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    ok = i < count
    base = tok_ptr + i.to(tl.int64) * D
    sx = tl.load(base + 0, mask=ok, other=1.0).to(tl.float32)
    sy = tl.load(base + 1, mask=ok, other=1.0).to(tl.float32)
    mx = tl.load(base + 3, mask=ok, other=0.0).to(tl.float32)
    my = tl.load(base + 4, mask=ok, other=0.0).to(tl.float32)
    c0, c1 = _axis_range(xs_ptr, W, mx, sx * support)
    r0, r1 = _axis_range(ys_ptr, H, my, sy * support)
    tl.store(box_ptr + 4 * i, c0, mask=ok)
    tl.store(box_ptr + 4 * i + 1, c1, mask=ok)
    tl.store(box_ptr + 4 * i + 2, r0, mask=ok)
    tl.store(box_ptr + 4 * i + 3, r1, mask=ok)
    hit = (c0 <= c1) & (r0 <= r1)
    tiles = (c1 // TILE_W - c0 // TILE_W + 1) * (r1 // TILE_H - r0 // TILE_H + 1)
    tl.store(tiles_ptr + i, tl.where(hit, tiles, 0), mask=ok)


@triton.jit
def _pair_kernel(box_ptr, first_ptr, tile_ptr, token_ptr, tokens_per_image, tiles_x, tiles_y,
                 TILE_H: tl.constexpr, TILE_W: tl.constexpr, BLOCK: tl.constexpr):
    """The (tile, token) pairs of token i, at its offset ``first[i]``, its tiles in row-major order."""
    i = tl.program_id(0)
    first = tl.load(first_ptr + i)
    last = tl.load(first_ptr + i + 1)
    tx0 = tl.load(box_ptr + 4 * i) // TILE_W
    nx = tl.load(box_ptr + 4 * i + 1) // TILE_W - tx0 + 1
    ty0 = tl.load(box_ptr + 4 * i + 2) // TILE_H
    image_tile0 = (i // tokens_per_image) * tiles_y
    for start in range(first, last, BLOCK):
        p = start + tl.arange(0, BLOCK)
        local = p - first
        tile = (image_tile0 + ty0 + local // nx) * tiles_x + tx0 + local % nx
        tl.store(tile_ptr + p, tile, mask=p < last)
        tl.store(token_ptr + p, i + 0 * p, mask=p < last)


@triton.jit
def _tile_pixels(xs_ptr, ys_ptr, H, W, tiles_x, tiles_per_image, TILE_H: tl.constexpr, TILE_W: tl.constexpr):
    """This program's tile, image b, its P pixels' rows and cols, which of them lie on the map, and their x, y."""
    tile = tl.program_id(0)
    b = tile // tiles_per_image
    rest = tile % tiles_per_image
    p = tl.arange(0, TILE_H * TILE_W)
    rows = (rest // tiles_x) * TILE_H + p // TILE_W
    cols = (rest % tiles_x) * TILE_W + p % TILE_W
    x = tl.load(xs_ptr + cols, mask=cols < W, other=0.0)
    y = tl.load(ys_ptr + rows, mask=rows < H, other=0.0)
    return tile, b, rows, cols, (rows < H) & (cols < W), x, y


@triton.jit
def _pair_weights(tok_ptr, box_ptr, pair_ptr, k, k_ok, D, x, y, rows, cols):
    """Weights v ``[T, P]`` of the tokens of pairs ``k`` [T] at the tile's P pixels, their offsets (u, w) in
    sigma units, the box mask (false for padding pairs) and each token's row pointer."""
    i = tl.load(pair_ptr + k, mask=k_ok, other=0)
    base = tok_ptr + i.to(tl.int64) * D
    sx = tl.load(base + 0, mask=k_ok, other=1.0).to(tl.float32)[:, None]
    sy = tl.load(base + 1, mask=k_ok, other=1.0).to(tl.float32)[:, None]
    rho = tl.load(base + 2, mask=k_ok, other=0.0).to(tl.float32)[:, None]
    mx = tl.load(base + 3, mask=k_ok, other=0.0).to(tl.float32)[:, None]
    my = tl.load(base + 4, mask=k_ok, other=0.0).to(tl.float32)[:, None]
    box = box_ptr + 4 * i
    inside = (k_ok[:, None] & (cols[None, :] >= tl.load(box, mask=k_ok)[:, None])
              & (cols[None, :] <= tl.load(box + 1, mask=k_ok)[:, None])
              & (rows[None, :] >= tl.load(box + 2, mask=k_ok)[:, None])
              & (rows[None, :] <= tl.load(box + 3, mask=k_ok)[:, None]))
    u = (x[None, :] - mx) / sx
    w = (y[None, :] - my) / sy
    v = tl.exp((u * u - 2.0 * rho * u * w + w * w) * (-0.5 / (1.0 - rho * rho)))
    return tl.where(inside, v, 0.0), u, w, inside, base


@triton.jit
def _forward_kernel(tok_ptr, box_ptr, pair_ptr, start_ptr, xs_ptr, ys_ptr, out_ptr,
                    H, W, C, D, tiles_x, tiles_per_image, TILE_H: tl.constexpr, TILE_W: tl.constexpr,
                    BLOCK_T: tl.constexpr, BLOCK_C: tl.constexpr, FINITE: tl.constexpr):
    tile, b, rows, cols, on_map, x, y = _tile_pixels(xs_ptr, ys_ptr, H, W, tiles_x, tiles_per_image, TILE_H, TILE_W)
    ch = tl.arange(0, BLOCK_C)
    ch_ok = ch < C
    acc = tl.zeros([TILE_H * TILE_W, BLOCK_C], dtype=tl.float32)
    lo = tl.load(start_ptr + tile)
    hi = tl.load(start_ptr + tile + 1)
    if FINITE:
        # BLOCK_T pairs at a time: the colour sum is a [P, T] x [T, C] product
        for first in range(lo, hi, BLOCK_T):
            k = first + tl.arange(0, BLOCK_T)
            k_ok = k < hi
            v, u, w, inside, base = _pair_weights(tok_ptr, box_ptr, pair_ptr, k, k_ok, D, x, y, rows, cols)
            f = tl.load(base[:, None] + 5 + ch[None, :], mask=k_ok[:, None] & ch_ok[None, :], other=0.0)
            acc += tl.dot(tl.trans(v), f.to(tl.float32), input_precision="ieee")
    else:
        # a product would spread 0 * NaN/inf colours over the tile: add each token inside its box only
        for k in range(lo, hi):
            one = k + tl.arange(0, 1)
            v, u, w, inside, base = _pair_weights(tok_ptr, box_ptr, pair_ptr, one, one < hi, D, x, y, rows, cols)
            f = tl.load(base + 5 + ch[None, :], mask=ch_ok[None, :], other=0.0).to(tl.float32)
            acc += tl.where(tl.trans(inside), tl.trans(v) * f, 0.0)
    pix = ((b.to(tl.int64) * H + rows) * W + cols) * C
    tl.store(out_ptr + pix[:, None] + ch[None, :], acc, mask=on_map[:, None] & ch_ok[None, :])


@triton.jit
def _backward_kernel(tok_ptr, box_ptr, pair_ptr, start_ptr, xs_ptr, ys_ptr, grad_ptr, part_ptr,
                     H, W, C, D, tiles_x, tiles_per_image, sgb, sgc, sgh, sgw, TILE_H: tl.constexpr,
                     TILE_W: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_C: tl.constexpr):
    tile, b, rows, cols, on_map, x, y = _tile_pixels(xs_ptr, ys_ptr, H, W, tiles_x, tiles_per_image, TILE_H, TILE_W)
    ch = tl.arange(0, BLOCK_C)
    ch_ok = ch < C
    at = b.to(tl.int64) * sgb + rows[:, None] * sgh + cols[:, None] * sgw + ch[None, :] * sgc
    g = tl.load(grad_ptr + at, mask=on_map[:, None] & ch_ok[None, :], other=0.0).to(tl.float32)  # [P, C]
    hi = tl.load(start_ptr + tile + 1)
    for first in range(tl.load(start_ptr + tile), hi, BLOCK_T):
        k = first + tl.arange(0, BLOCK_T)
        k_ok = k < hi
        v, u, w, inside, base = _pair_weights(tok_ptr, box_ptr, pair_ptr, k, k_ok, D, x, y, rows, cols)
        f = tl.load(base[:, None] + 5 + ch[None, :], mask=k_ok[:, None] & ch_ok[None, :], other=0.0)
        dv = tl.dot(f.to(tl.float32), tl.trans(g), input_precision="ieee")  # dL/dv [T, P]
        gv = tl.where(inside, v * dv, 0.0)
        gf = tl.dot(v, g, input_precision="ieee")  # [T, C]
        # v = exp(-s q), q = u^2 - 2 rho u w + w^2, u = dx/sx, w = dy/sy, s = 1/(2(1-rho^2)): the geometry
        # gradients are linear in these sums of gv = v dL/dv times u, w, u^2, u w, w^2 over the tile's pixels
        a_u = tl.sum(gv * u, axis=1)
        a_w = tl.sum(gv * w, axis=1)
        a_uu = tl.sum(gv * u * u, axis=1)
        a_uw = tl.sum(gv * u * w, axis=1)
        a_ww = tl.sum(gv * w * w, axis=1)
        ix = 1.0 / tl.load(base + 0, mask=k_ok, other=1.0).to(tl.float32)
        iy = 1.0 / tl.load(base + 1, mask=k_ok, other=1.0).to(tl.float32)
        rho = tl.load(base + 2, mask=k_ok, other=0.0).to(tl.float32)
        s2 = 1.0 / (1.0 - rho * rho)  # 2 s
        row = part_ptr + k * (5 + C)
        tl.store(row + 0, s2 * ix * (a_uu - rho * a_uw), mask=k_ok)
        tl.store(row + 1, s2 * iy * (a_ww - rho * a_uw), mask=k_ok)
        tl.store(row + 2, s2 * a_uw - rho * s2 * s2 * (a_uu - 2.0 * rho * a_uw + a_ww), mask=k_ok)
        tl.store(row + 3, s2 * ix * (a_u - rho * a_w), mask=k_ok)
        tl.store(row + 4, s2 * iy * (a_w - rho * a_u), mask=k_ok)
        tl.store(row[:, None] + 5 + ch[None, :], gf, mask=k_ok[:, None] & ch_ok[None, :])


@dataclass
class _Bins:
    """The tile lists of one render: pair k is token ``pair_token[k]`` (flat b*N+n) in its tile's list,
    the list of tile t is ``pair_token[tile_start[t]:tile_start[t+1]]``."""

    boxes: torch.Tensor  # [B*N, 4] int32: c0, c1, r0, r1 (inclusive; empty when lo > hi)
    pair_token: torch.Tensor  # [pairs] int32
    tile_start: torch.Tensor  # [B*tiles + 1] int32
    tiles_x: int
    tiles_y: int
    xs: torch.Tensor
    ys: torch.Tensor


@functools.lru_cache(maxsize=16)
def _axis(length: int, device: torch.device) -> torch.Tensor:
    return grid_axis(length, torch.float32, device)


@torch.no_grad()
def bin_tokens(flat: torch.Tensor, batch: int, height: int, width: int, support: float) -> _Bins:
    """Exact support boxes of tokens ``[B*N, 5+C]`` and the (tile, token) pairs they overlap, sorted by tile."""
    dev = flat.device
    xs, ys = _axis(width, dev), _axis(height, dev)
    n = flat.shape[0]
    tiles_x, tiles_y = triton.cdiv(width, TILE_W), triton.cdiv(height, TILE_H)
    boxes = torch.empty(n, 4, dtype=torch.int32, device=dev)
    first = torch.zeros(n + 1, dtype=torch.int32, device=dev)  # token i's pairs: first[i] .. first[i+1]-1
    if n:
        tiles = torch.empty(n, dtype=torch.int32, device=dev)
        _box_kernel[(triton.cdiv(n, _BIN_BLOCK),)](flat, xs, ys, boxes, tiles, n, flat.shape[1], height, width,
                                                   support, TILE_H=TILE_H, TILE_W=TILE_W, BLOCK=_BIN_BLOCK)
        first[1:] = torch.cumsum(tiles, 0)
    total = int(first[-1])
    tile = torch.empty(total, dtype=torch.int32, device=dev)
    token = torch.empty(total, dtype=torch.int32, device=dev)
    if total:
        _pair_kernel[(n,)](boxes, first, tile, token, n // batch, tiles_x, tiles_y, TILE_H=TILE_H, TILE_W=TILE_W,
                           BLOCK=_BIN_BLOCK)
    tile, order = torch.sort(tile, stable=True)  # stable: a tile's list in token order (deterministic sums)
    tile_start = torch.zeros(batch * tiles_x * tiles_y + 1, dtype=torch.int32, device=dev)
    tile_start[1:] = torch.cumsum(torch.bincount(tile, minlength=batch * tiles_x * tiles_y), 0)
    return _Bins(boxes, token[order], tile_start, tiles_x, tiles_y, xs, ys)


def _launch_shape(bins: _Bins, batch: int, channels: int) -> tuple[tuple[int], dict]:
    block_c = max(16, triton.next_power_of_2(channels))  # tl.dot needs every dimension >= 16
    meta = {"TILE_H": TILE_H, "TILE_W": TILE_W, "BLOCK_T": BLOCK_T, "BLOCK_C": block_c,
            "num_warps": 4 if block_c <= 16 else 8}
    return (batch * bins.tiles_x * bins.tiles_y,), meta


def _has_work(bins: _Bins, d: int) -> bool:
    """Whether any token touches the map with any colour (else the map and all gradients are zero)."""
    return d > 5 and bins.pair_token.numel() > 0


class _TritonSplat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
        b, n, d = tokens.shape
        flat = tokens.detach().reshape(b * n, d).contiguous()
        bins = bin_tokens(flat, b, height, width, support)
        out = torch.zeros(b, height, width, d - 5, dtype=torch.float32, device=tokens.device)
        if _has_work(bins, d):  # (and no empty tensor, whose null pointer a GPU launch refuses)
            grid, meta = _launch_shape(bins, b, d - 5)
            finite = bool(torch.isfinite(flat[:, 5:]).all())
            _forward_kernel[grid](flat, bins.boxes, bins.pair_token, bins.tile_start, bins.xs, bins.ys, out,
                                  height, width, d - 5, d, bins.tiles_x, bins.tiles_x * bins.tiles_y,
                                  FINITE=finite, **meta)
        ctx.save_for_backward(flat)
        ctx.bins, ctx.shape = bins, (b, height, width)
        return out.permute(0, 3, 1, 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        (flat,) = ctx.saved_tensors
        bins, (b, height, width) = ctx.bins, ctx.shape
        d = flat.shape[1]
        work = _has_work(bins, d)
        part = (torch.empty if work else torch.zeros)(bins.pair_token.numel(), d, dtype=torch.float32,
                                                      device=flat.device)
        if work:
            grid, meta = _launch_shape(bins, b, d - 5)
            _backward_kernel[grid](flat, bins.boxes, bins.pair_token, bins.tile_start, bins.xs, bins.ys, grad, part,
                                   height, width, d - 5, d, bins.tiles_x, bins.tiles_x * bins.tiles_y,
                                   *grad.stride(), **meta)
        sums = torch.zeros(flat.shape[0], d, dtype=torch.float64, device=flat.device)
        sums.index_add_(0, bins.pair_token.long(), part.double())
        return sums.view(b, -1, d).to(flat.dtype), None, None, None


def splat_triton(tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
    """Tokens ``[B, N, 5+C]`` (float32 or half types) -> ``[B, C, height, width]`` (channels-last strided)."""
    # kernels launch on the current CUDA device: make it the tokens' (autograd runs the backward on that device)
    on_device = torch.cuda.device(tokens.device) if tokens.device.type == "cuda" else contextlib.nullcontext()
    with on_device:
        return _TritonSplat.apply(tokens, height, width, support).to(tokens.dtype)
