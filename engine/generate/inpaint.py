"""Token inpainting: keep a subset of tokens and generate the rest.

Kept tokens follow the noising path of their known values exactly: their state is reset to
``t * known + (1 - t) * noise`` after every step (RePaint-style replacement, with the sample's own
initial noise so the ODE path stays consistent) and their velocity is the path's ``known - noise``.
The model sees the kept tokens at the same noise level as the rest, so the free tokens adapt to them.
"""
from __future__ import annotations

import torch

from .transport import VelocityFn, expand_time


class KeepTokens:
    """Known data ``[B,N,C]`` kept where ``mask [B,N]`` is True, on the path from ``noise [B,N,C]``."""

    def __init__(self, known: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> None:
        self.known, self.noise = known, noise
        self.mask = mask.bool()[..., None]

    def velocity(self, velocity: VelocityFn) -> VelocityFn:
        """``velocity`` with the kept tokens' values replaced by their path velocity."""
        def wrapped(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return torch.where(self.mask, self.known - self.noise, velocity(x, t))
        return wrapped

    def project(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """``x`` with the kept tokens set to their path point at time ``t``."""
        tt = expand_time(torch.full((x.shape[0],), float(t)), x)
        return torch.where(self.mask, tt * self.known + (1 - tt) * self.noise, x)
