"""RoIAlign in pure torch, with the semantics of ``torchvision.ops.roi_align(..., sampling_ratio=-1,
aligned=True)``: each of the ``P x P`` bins of a box averages ``ceil(h/P) x ceil(w/P)`` bilinear samples.

Sample rules (torchvision's): a sample outside ``[-1, H] x [-1, W]`` counts as zero; coordinates in
``[-1, 0]`` are clamped to 0 and those past the last pixel to the last pixel. An empty sampling grid
(a box of zero or negative size) gives zeros.

Bilinear sampling and bin averaging are separable, so each box is pooled as ``Ay @ window @ Ax^T``
with per-axis weight matrices over the window of pixels the box touches.
"""
from __future__ import annotations

import torch

# Largest number of window values (pixels x channels) gathered at once; bounds memory.
_CHUNK_ELEMENTS = 1 << 23


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int = 8,
              spatial_scale: float = 1.0) -> torch.Tensor:
    """Pool ``features [B,C,H,W]`` over ``rois [K,5]`` = (batch index, x1, y1, x2, y2) -> ``[K,C,P,P]``.

    Differentiable with respect to ``features``. It computes in float32 (float64 for float64
    features) whatever the feature dtype and autocast state, and returns the features' dtype.
    """
    with torch.autocast(device_type=features.device.type, enabled=False):
        return _roi_align(features, rois, int(output_size), float(spatial_scale))


def _roi_align(features: torch.Tensor, rois: torch.Tensor, p: int, spatial_scale: float) -> torch.Tensor:
    b, c, h, w = features.shape
    calc = torch.float64 if features.dtype == torch.float64 else torch.float32
    out = features.new_zeros((rois.shape[0], p, p, c), dtype=calc)
    if rois.shape[0] == 0 or features.numel() == 0:
        return out.permute(0, 3, 1, 2).to(features.dtype)
    r = rois.to(device=features.device, dtype=calc)
    start_x, start_y = r[:, 1] * spatial_scale - 0.5, r[:, 2] * spatial_scale - 0.5
    size_x, size_y = r[:, 3] * spatial_scale - 0.5 - start_x, r[:, 4] * spatial_scale - 0.5 - start_y
    grid_x = torch.ceil(size_x / p).clamp(min=0).long()
    grid_y = torch.ceil(size_y / p).clamp(min=0).long()
    flat = features.permute(0, 2, 3, 1).reshape(b * h * w, c).to(calc)
    batch = r[:, 0].long()

    key = grid_y * (int(grid_x.max()) + 1) + grid_x
    for k in torch.unique(key).tolist():
        members = torch.nonzero(key == k).squeeze(1)
        gy, gx = int(grid_y[members[0]]), int(grid_x[members[0]])
        if gy == 0 or gx == 0:
            continue
        ay, y0, ly = _axis_matrix(start_y[members], size_y[members] / p, gy, p, h)
        ax, x0, lx = _axis_matrix(start_x[members], size_x[members] / p, gx, p, w)
        step = max(1, _CHUNK_ELEMENTS // (ly * lx * c))
        for i in range(0, members.numel(), step):
            sl = slice(i, i + step)
            window = _window(flat, batch[members[sl]] * (h * w), y0[sl], x0[sl], ly, lx, h, w)
            pooled = torch.einsum("ryxc,rqx->ryqc", window, ax[sl])
            out[members[sl]] = torch.einsum("rpy,ryqc->rpqc", ay[sl], pooled) / float(gy * gx)
    return out.permute(0, 3, 1, 2).to(features.dtype)


def _axis_matrix(start: torch.Tensor, bin_size: torch.Tensor, grid: int, p: int, length: int):
    """Summed bilinear weights of each bin's samples along one axis.

    Returns ``(weights [R, p, L], first pixel [R], L)``: row ``j`` of ``weights`` holds, for window
    pixel ``first + t``, the total weight that the samples of bin ``j`` give it.
    """
    n = start.shape[0]
    bins = torch.arange(p, device=start.device, dtype=start.dtype)
    steps = torch.arange(grid, device=start.device, dtype=start.dtype) + 0.5
    # Same operation order as torchvision: (start + bin*size) + ((i+0.5)*size)/grid.
    pos = (start[:, None, None] + bins[None, :, None] * bin_size[:, None, None]) \
        + (steps[None, None, :] * bin_size[:, None, None]) / grid
    inside = ((pos >= -1.0) & (pos <= length)).to(pos.dtype)
    pos = pos.clamp(min=0)
    low = pos.floor().long()
    at_end = low >= length - 1
    low = torch.where(at_end, torch.full_like(low, length - 1), low)
    high = torch.where(at_end, low, low + 1)
    frac = torch.where(at_end, torch.zeros_like(pos), pos - low.to(pos.dtype))
    first = low.reshape(n, -1).min(dim=1).values
    size = int((high.reshape(n, -1).max(dim=1).values - first).max()) + 1
    weights = torch.zeros(n, p, size, dtype=pos.dtype, device=pos.device)
    offset = first[:, None, None]
    weights.scatter_add_(2, low - offset, (1.0 - frac) * inside)
    weights.scatter_add_(2, high - offset, frac * inside)
    return weights, first, size


def _window(flat: torch.Tensor, base: torch.Tensor, y0: torch.Tensor, x0: torch.Tensor,
            ly: int, lx: int, h: int, w: int) -> torch.Tensor:
    """Pixels ``[R, ly, lx, C]`` of each box's window; rows/columns past the border repeat the last
    one (they carry zero weight)."""
    ys = (y0[:, None] + torch.arange(ly, device=y0.device)).clamp(max=h - 1)
    xs = (x0[:, None] + torch.arange(lx, device=x0.device)).clamp(max=w - 1)
    idx = base[:, None, None] + ys[:, :, None] * w + xs[:, None, :]
    return flat.index_select(0, idx.reshape(-1)).reshape(*idx.shape, -1)
