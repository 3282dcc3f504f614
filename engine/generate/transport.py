"""Flow matching on the linear path ``x_t = t * x1 + (1 - t) * x0`` (t = 0: noise, t = 1: data),
with a velocity-predicting model, as in SiT and the reference's generator."""
from __future__ import annotations

from typing import Callable

import torch

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x [B,...], t [B]) -> velocity [B,...]


def expand_time(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``t [B]`` reshaped to broadcast over ``like [B,...]``."""
    return t.reshape(-1, *([1] * (like.dim() - 1))).to(like)


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The path point ``x_t`` and its velocity ``x1 - x0`` for noise ``x0``, data ``x1`` and times ``t [B]``."""
    tt = expand_time(t, x1)
    return tt * x1 + (1 - tt) * x0, x1 - x0


def velocity_loss(velocity: VelocityFn, x1: torch.Tensor, generator: torch.Generator | None = None,
                  noise: torch.Tensor | None = None, t: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between the model's velocity at a random path point and the path's velocity
    (uniform t in [0, 1), standard normal noise unless given)."""
    device = x1.device if generator is None else generator.device
    if noise is None:
        noise = torch.randn(x1.shape, generator=generator, device=device, dtype=x1.dtype).to(x1.device)
    if t is None:
        t = torch.rand(x1.shape[0], generator=generator, device=device).to(x1.device)
    xt, ut = interpolate(noise, x1, t)
    return ((velocity(xt, t) - ut) ** 2).mean()


def sde_diffusion(t: torch.Tensor) -> torch.Tensor:
    """The SBDM diffusion coefficient of the linear path: ``D(t) = (1-t)^2 / t + (1-t)``."""
    return (1 - t) ** 2 / t + (1 - t)


def score_from_velocity(v: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The score ``grad log p_t(x) = (t v - x) / (1 - t)`` implied by velocity ``v`` on the linear path."""
    tt = expand_time(t, x)
    return (tt * v - x) / (1 - tt)
