"""The generators' data space: per-channel normalised tokens, and the way back to valid tokens.

Texture model: data = ``(token - [g_init, 0]) - mean) / std`` per channel, i.e. the geometry channels
hold the residual to the layout. Back: ``s * std + mean``, add ``g_init`` to the geometry (an additive
residual in parameter space, facts §6), clamp sigma to [1e-5, 0.99999] and rho to +-0.99999 (mu is
not clamped). Layout model: data = ``(g_init - mean) / std``; its samples go through calibration.
"""
from __future__ import annotations

import torch

from ..tokens import GEOMETRY_CHANNELS, RHO, RHO_MAX, SIGMA_MAX, SIGMA_MIN, SX, SY
from .config import GeneratorConfig


def channel_stats(config: GeneratorConfig, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(means, stds)`` as ``[C]`` tensors on ``like``'s device (zeros and ones when unset)."""
    c = config.in_channels
    means = torch.tensor(config.means or [0.0] * c, dtype=torch.float32, device=like.device)
    stds = torch.tensor(config.stds or [1.0] * c, dtype=torch.float32, device=like.device)
    return means, stds


def to_data(config: GeneratorConfig, tokens: torch.Tensor, g_init: torch.Tensor | None = None) -> torch.Tensor:
    """Tokens ``[...,N,C]`` (texture: with their ``g_init [...,N,5]``) -> normalised model data."""
    x = tokens.float()
    if g_init is not None:
        x = torch.cat([x[..., :GEOMETRY_CHANNELS] - g_init.float(), x[..., GEOMETRY_CHANNELS:]], dim=-1)
    means, stds = channel_stats(config, x)
    return (x - means) / stds


def from_data(config: GeneratorConfig, data: torch.Tensor, g_init: torch.Tensor | None = None) -> torch.Tensor:
    """Model data ``[...,N,C]`` -> tokens: denormalise, add ``g_init`` to the geometry, clamp sigma and rho."""
    means, stds = channel_stats(config, data)
    x = data.float() * stds + means
    if g_init is not None:
        x = torch.cat([x[..., :GEOMETRY_CHANNELS] + g_init.float(), x[..., GEOMETRY_CHANNELS:]], dim=-1)
    return clamp_geometry(x)


def clamp_geometry(tokens: torch.Tensor) -> torch.Tensor:
    """Copy with sigma in [1e-5, 0.99999] and rho in [-0.99999, 0.99999], as the reference's generator does."""
    out = tokens.clone()
    out[..., SX:SY + 1] = out[..., SX:SY + 1].clamp(SIGMA_MIN, SIGMA_MAX)
    out[..., RHO] = out[..., RHO].clamp(-RHO_MAX, RHO_MAX)
    return out
