"""Unconstrained parameters of Gaussian geometry, so that every optimiser step gives valid tokens.

sigma = sigmoid(a), rho = tanh(b), mu = tanh(s * c) with ``s`` a per-token scale (a sigma of the
start, so one Adam step moves a centre by about lr * the token's own size). Rows marked locked keep
the geometry they are given bit for bit. Used by per-image fitting and by test-time refinement.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .tokens import MX, MY, RHO, RHO_MAX, SIGMA_MAX, SIGMA_MIN, SX, SY

MU_MAX = 1.0 - 1e-6


@dataclass(frozen=True)
class GeometryParams:
    """The map between geometry ``[M, 5]`` and its unconstrained parameters ``[M, 5]``."""

    mu_scale: torch.Tensor  # [M, 2], > 0
    locked: torch.Tensor  # bool [M, 1]: rows whose geometry stays as given

    def encode(self, g: torch.Tensor) -> torch.Tensor:
        """Geometry -> parameters (values at the bounds are pulled just inside them)."""
        sig = g[:, [SX, SY]].clamp(SIGMA_MIN, SIGMA_MAX)
        rho = g[:, [RHO]].clamp(-RHO_MAX, RHO_MAX)
        mu = g[:, [MX, MY]].clamp(-MU_MAX, MU_MAX)
        return torch.cat([torch.logit(sig), torch.atanh(rho), torch.atanh(mu) / self.mu_scale], dim=1)

    def decode(self, p: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        """Parameters -> geometry within the bounds; locked rows take ``fixed`` exactly."""
        g = torch.cat([
            torch.sigmoid(p[:, 0:2]).clamp(SIGMA_MIN, SIGMA_MAX),
            torch.tanh(p[:, 2:3]).clamp(-RHO_MAX, RHO_MAX),
            torch.tanh(p[:, 3:5] * self.mu_scale),
        ], dim=1)
        return torch.where(self.locked, fixed, g)
