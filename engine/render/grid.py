"""Pixel-centre coordinates of the render grid and the exact support box of each Gaussian.

Every backend takes its coordinates and box test from here, so all of them agree to the last bit
on which pixels a Gaussian touches (the official test: skip iff |dx| > s*sx or |dy| > s*sy).
"""
from __future__ import annotations

import torch


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the splat runs in: half types compute in float32."""
    return torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype


def grid_axis(length: int, dtype: torch.dtype, device: torch.device | str = "cpu") -> torch.Tensor:
    """Corner-aligned pixel centres ``2p/(length-1) - 1`` of one axis, correctly rounded to ``dtype``."""
    p = torch.arange(length, dtype=torch.float64)  # on the CPU: some devices (MPS) have no float64
    return (p * 2 / (length - 1) - 1).to(device=device, dtype=dtype)


def support_bounds(sigma: torch.Tensor, support: float) -> torch.Tensor:
    """Box half-widths ``support * sigma`` computed in sigma's dtype (the same product in every backend)."""
    return sigma * torch.tensor(support, dtype=sigma.dtype, device=sigma.device)


@torch.no_grad()
def axis_ranges(axis: torch.Tensor, mu: torch.Tensor, bound: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First and last pixel index ``[lo, hi]`` with ``not |axis[p] - mu| > bound`` (empty when lo > hi).

    The passing pixels are contiguous, so the box of a Gaussian is the product of its two ranges.
    NaN geometry makes the test unable to reject any pixel, as in the official kernel: the whole axis.
    """
    n = axis.shape[0]
    half = (n - 1) / 2
    # a first guess in the tokens' own dtype (within a pixel or so), made exact below
    lo_f = torch.nan_to_num((mu - bound + 1) * half, nan=-1.0, posinf=n, neginf=-1.0)
    hi_f = torch.nan_to_num((mu + bound + 1) * half, nan=n, posinf=n, neginf=-1.0)
    lo = (lo_f.clamp(-1, n).floor().long() - 1).clamp(min=0)
    hi = (hi_f.clamp(-1, n).ceil().long() + 1).clamp(max=n - 1)
    # the guess is at most two pixels too wide on each side; tighten it with the exact test
    for _ in range(3):
        lo = lo + (_outside(axis, lo, mu, bound) & (lo <= hi)).long()
        hi = hi - (_outside(axis, hi, mu, bound) & (hi >= lo)).long()
    lo = torch.where(_outside(axis, lo, mu, bound), hi + 1, lo)
    return lo, hi


def _outside(axis: torch.Tensor, index: torch.Tensor, mu: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    return (axis[index.clamp(0, axis.shape[0] - 1)] - mu).abs() > bound
