"""The reference renderer: the official formula evaluated densely (every token at every pixel).

Tokens are processed in chunks, each under activation checkpointing when gradients are needed, so
neither the forward nor the backward pass holds more than about ``MEMORY_BUDGET`` bytes of maps.
"""
from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from ..tokens import MX, MY, RHO, SX, SY
from .grid import compute_dtype, grid_axis, support_bounds

MEMORY_BUDGET = 64 * 2**20  # well under the 256 MB ceiling; smaller chunks also run faster here
_MAPS_PER_TOKEN = 8  # live [H, W] maps per token in one chunk (masks, cross term, q, v, ...)


def splat_dense(tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
    """Tokens ``[B, N, 5+C]`` -> ``[B, C, height, width]`` by the dense masked formula."""
    b, n, d = tokens.shape
    dtype = compute_dtype(tokens.dtype)
    t = tokens.to(dtype)
    xs = grid_axis(width, dtype, t.device)
    ys = grid_axis(height, dtype, t.device)
    per_token = b * height * width * _MAPS_PER_TOKEN * t.element_size()
    chunk = max(1, MEMORY_BUDGET // per_token)
    out = torch.zeros(b, d - 5, height, width, dtype=dtype, device=t.device)
    for start in range(0, n, chunk):
        part = t[:, start:start + chunk]
        if torch.is_grad_enabled() and part.requires_grad:
            out = out + checkpoint(_splat_chunk, part, xs, ys, support, use_reentrant=False)
        else:
            out = out + _splat_chunk(part, xs, ys, support)
    return out.to(tokens.dtype)


def _splat_chunk(t: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, support: float) -> torch.Tensor:
    sx, sy, rho, mx, my = (t[..., i, None, None] for i in (SX, SY, RHO, MX, MY))
    dx = xs.view(1, 1, 1, -1) - mx  # [B, n, 1, W]
    dy = ys.view(1, 1, -1, 1) - my  # [B, n, H, 1]
    outside = (dx.abs() > support_bounds(sx, support)) | (dy.abs() > support_bounds(sy, support))
    q = dx * dx / (sx * sx) + dy * dy / (sy * sy) - (2 * rho / (sx * sy) * dx) * dy
    v = torch.exp(q * (-0.5 / (1 - rho * rho))).masked_fill(outside, 0)
    colours = t[..., 5:]
    if torch.isfinite(colours).all():
        return torch.einsum("bnhw,bnc->bchw", v, colours)
    # a matmul would spread 0 * inf/NaN over the whole map; the official kernel adds only inside boxes
    terms = v[:, :, None] * colours[..., None, None]
    return terms.masked_fill(outside[:, :, None], 0).sum(1)
