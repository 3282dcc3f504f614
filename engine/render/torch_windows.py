"""Pure-torch windowed splatting for any device: each token touches only its support box.

Tokens are grouped by box size (rounded up on a 1.5x ladder); each group gathers its boxes as
fixed-size windows, evaluates the formula there and index-adds the weighted colours into the map.
Autograd gives the backward. Work per chunk is bounded by ``CHUNK_BUDGET`` bytes; when gradients
are needed over several chunks, each chunk is checkpointed so saved activations stay bounded too.
"""
from __future__ import annotations

import torch
from torch.utils.checkpoint import checkpoint

from ..tokens import MX, MY, RHO, SX, SY
from .grid import axis_ranges, compute_dtype, grid_axis, support_bounds

CHUNK_BUDGET = 32 * 2**20
_EXTRA_MAPS = 8  # window-sized temporaries besides the C colour planes


def splat_windows(tokens: torch.Tensor, height: int, width: int, support: float) -> torch.Tensor:
    """Tokens ``[B, N, 5+C]`` -> ``[B, C, height, width]`` (a channels-last strided tensor)."""
    b, n, d = tokens.shape
    c = d - 5
    dtype = compute_dtype(tokens.dtype)
    flat = tokens.to(dtype).reshape(b * n, d)
    dev = flat.device
    xs, ys = grid_axis(width, dtype, dev), grid_axis(height, dtype, dev)
    with torch.no_grad():
        c_lo, c_hi = axis_ranges(xs, flat[:, MX], support_bounds(flat[:, SX], support))
        r_lo, r_hi = axis_ranges(ys, flat[:, MY], support_bounds(flat[:, SY], support))
        ky = _ladder_ceil(r_hi - r_lo + 1).clamp(max=height)
        kx = _ladder_ceil(c_hi - c_lo + 1).clamp(max=width)
        key = torch.where((c_lo <= c_hi) & (r_lo <= r_hi), ky * (width + 1) + kx, -1)
        image = torch.arange(b * n, device=dev) // n
    sink = b * height * width  # padding pixels of a window land in this extra row, dropped at the end
    out = torch.zeros(sink + 1, c, dtype=dtype, device=dev)
    chunks = []
    for k in torch.unique(key).tolist():
        if k < 0:
            continue
        wy, wx = divmod(k, width + 1)
        ids = torch.nonzero(key == k).squeeze(1)
        step = max(1, CHUNK_BUDGET // (wy * wx * (c + _EXTRA_MAPS) * flat.element_size()))
        chunks += [(ids[s:s + step], wy, wx) for s in range(0, ids.numel(), step)]
    use_checkpoint = torch.is_grad_enabled() and flat.requires_grad and len(chunks) > 1
    for ids, wy, wx in chunks:
        with torch.no_grad():
            rows, row_ok = _window(r_lo[ids], r_hi[ids], wy, height)
            cols, col_ok = _window(c_lo[ids], c_hi[ids], wx, width)
            ok = row_ok[:, :, None] & col_ok[:, None, :]
            pix = ((image[ids, None] * height + rows)[:, :, None] * width + cols[:, None, :]).masked_fill(~ok, sink)
        args = (flat[ids], xs[cols], ys[rows], ok)
        contrib = checkpoint(_window_colours, *args, use_reentrant=False) if use_checkpoint else _window_colours(*args)
        out.index_add_(0, pix.reshape(-1), contrib)
    return out[:sink].view(b, height, width, c).permute(0, 3, 1, 2).to(tokens.dtype)


def _window_colours(t: torch.Tensor, xw: torch.Tensor, yw: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """Weighted colours ``[n*wy*wx, C]`` of n tokens over their windows (pixel coords ``xw``, ``yw``)."""
    sx, sy, rho, mx, my = (t[:, i, None] for i in (SX, SY, RHO, MX, MY))
    dx = xw - mx  # [n, wx]
    dy = yw - my  # [n, wy]
    q = (dx * dx / (sx * sx))[:, None, :] + (dy * dy / (sy * sy))[:, :, None]
    q = q - (2 * rho / (sx * sy))[:, :, None] * dy[:, :, None] * dx[:, None, :]
    v = torch.exp(-q / (2 * (1 - rho * rho))[:, :, None])
    v = torch.where(ok, v, torch.zeros((), dtype=v.dtype, device=v.device))
    return (v[..., None] * t[:, None, None, 5:]).reshape(v.numel(), t.shape[1] - 5)


def _window(lo: torch.Tensor, hi: torch.Tensor, size: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    idx = lo[:, None] + torch.arange(size, device=lo.device)
    return idx.clamp(max=length - 1), idx <= hi[:, None]


def _ladder_ceil(n: torch.Tensor) -> torch.Tensor:
    """Round box sizes up to the ladder 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (at most 1.5x padding)."""
    p = torch.exp2(torch.floor(torch.log2(n.clamp(min=1).float()))).long()
    return torch.where(n <= p, p, torch.where(2 * n <= 3 * p, 3 * p // 2, 2 * p)).clamp(min=1)
