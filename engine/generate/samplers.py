"""Samplers from noise (t = 0) to data (t = 1) for a velocity field on the linear path.

- ``euler`` / ``heun``: fixed-step ODE solvers (``steps`` steps; Heun calls the model twice per step);
- ``ode``: adaptive Dormand-Prince 5(4) with mixed ``atol``/``rtol`` error control (the reference's
  torchdiffeq dopri5 default: atol 1e-6, rtol 1e-3);
- ``sde``: Euler-Maruyama with the SBDM diffusion, as the reference's default sampler: ``steps`` grid
  points on [max(0, 1e-3), 1 - last_step], ``steps - 1`` stochastic steps, then one deterministic
  mean step of ``last_step`` (0.04). The drift is ``v + D(t) * score(v)``; one model call per step
  gives both (the reference calls the model twice with identical inputs).

Every sampler takes ``callback(step, x)`` (after each step), ``cancel()`` (checked before each step;
True raises :class:`Cancelled`) and ``project(x, t)`` (applied to the state after each step, e.g.
to keep known tokens for inpainting).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ..errors import Cancelled, GPSTokenError
from .options import METHODS, check_sampler  # noqa: F401 (METHODS re-exported)
from .transport import VelocityFn, expand_time, score_from_velocity, sde_diffusion

ProgressFn = Callable[[int, torch.Tensor], None]
CancelFn = Callable[[], bool]
ProjectFn = Callable[[torch.Tensor, float], torch.Tensor]

SDE_T0_FLOOR = 1e-3
SDE_LAST_STEP = 0.04


def sample(velocity: VelocityFn, noise: torch.Tensor, method: str = "ode", steps: int = 50, *,
           atol: float = 1e-6, rtol: float = 1e-3, generator: torch.Generator | None = None,
           callback: ProgressFn | None = None, cancel: CancelFn | None = None,
           project: ProjectFn | None = None) -> torch.Tensor:
    """Integrate from ``noise`` at t = 0 to data at t = 1 with the named ``method`` (see module doc)."""
    check_sampler(method, steps)
    hooks = dict(callback=callback, cancel=cancel, project=project)
    if method == "euler":
        return euler(velocity, noise, steps, **hooks)
    if method == "heun":
        return heun(velocity, noise, steps, **hooks)
    if method == "sde":
        return sde(velocity, noise, steps, generator=generator, **hooks)
    return dopri5(velocity, noise, atol=atol, rtol=rtol, **hooks)


class _Hooks:
    """The progress, cancel and projection hooks shared by every sampler."""

    def __init__(self, callback: ProgressFn | None, cancel: CancelFn | None, project: ProjectFn | None) -> None:
        self.callback, self.cancel, self.project = callback, cancel, project
        self.step = 0

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise Cancelled("sampling cancelled")

    def done(self, x: torch.Tensor, t: float) -> torch.Tensor:
        if self.project is not None:
            x = self.project(x, t)
        self.step += 1
        if self.callback is not None:
            self.callback(self.step, x)
        return x


def _times(x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.full((x.shape[0],), float(t), device=x.device, dtype=torch.float32)


def euler(velocity: VelocityFn, noise: torch.Tensor, steps: int, callback: ProgressFn | None = None,
          cancel: CancelFn | None = None, project: ProjectFn | None = None) -> torch.Tensor:
    """Fixed-step explicit Euler on [0, 1]."""
    hooks, x = _Hooks(callback, cancel, project), noise
    grid = torch.linspace(0.0, 1.0, steps + 1).tolist()
    for t, t_next in zip(grid[:-1], grid[1:]):
        hooks.check()
        x = hooks.done(x + (t_next - t) * velocity(x, _times(x, t)), t_next)
    return x


def heun(velocity: VelocityFn, noise: torch.Tensor, steps: int, callback: ProgressFn | None = None,
         cancel: CancelFn | None = None, project: ProjectFn | None = None) -> torch.Tensor:
    """Fixed-step Heun (explicit trapezoid, second order) on [0, 1]."""
    hooks, x = _Hooks(callback, cancel, project), noise
    grid = torch.linspace(0.0, 1.0, steps + 1).tolist()
    for t, t_next in zip(grid[:-1], grid[1:]):
        hooks.check()
        h = t_next - t
        k1 = velocity(x, _times(x, t))
        k2 = velocity(x + h * k1, _times(x, t_next))
        x = hooks.done(x + 0.5 * h * (k1 + k2), t_next)
    return x


def sde(velocity: VelocityFn, noise: torch.Tensor, steps: int, generator: torch.Generator | None = None,
        last_step: float = SDE_LAST_STEP, callback: ProgressFn | None = None, cancel: CancelFn | None = None,
        project: ProjectFn | None = None) -> torch.Tensor:
    """Euler-Maruyama with the SBDM diffusion and a final deterministic mean step (the reference's default)."""
    hooks, x = _Hooks(callback, cancel, project), noise
    t1 = 1.0 - last_step
    grid = torch.linspace(SDE_T0_FLOOR, t1, steps).tolist()

    def drift(x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        tt = _times(x, t)
        v = velocity(x, tt)
        d = expand_time(sde_diffusion(tt), x)
        return v + d * score_from_velocity(v, x, tt), d

    for t, t_next in zip(grid[:-1], grid[1:]):
        hooks.check()
        dt = t_next - t
        f, d = drift(x, t)
        w = torch.randn(x.shape, generator=generator, dtype=x.dtype,
                        device=x.device if generator is None else generator.device).to(x.device)
        x = hooks.done(x + f * dt + torch.sqrt(2 * d) * w * math.sqrt(dt), t_next)
    hooks.check()
    f, _ = drift(x, t1)
    return hooks.done(x + f * last_step, 1.0)


# Dormand-Prince 5(4): nodes, stage coefficients, 5th-order weights (= last stage row, FSAL) and the
# difference between the 5th- and 4th-order weights (for the error estimate).
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_DP_E = tuple(b5 - b4 for b5, b4 in zip(_DP_A[6] + (0.0,), _DP_B4))


def dopri5(velocity: VelocityFn, noise: torch.Tensor, atol: float = 1e-6, rtol: float = 1e-3,
           max_steps: int = 10000, callback: ProgressFn | None = None, cancel: CancelFn | None = None,
           project: ProjectFn | None = None) -> torch.Tensor:
    """Adaptive Dormand-Prince 5(4) on [0, 1]: a step is accepted when the RMS of its error estimate,
    scaled by ``atol + rtol * max(|x|, |x_new|)``, is at most 1 (one step size for the whole batch)."""
    if atol <= 0 or rtol < 0:
        raise GPSTokenError(f"ode tolerances must be atol > 0 and rtol >= 0, got {atol}, {rtol}")
    hooks, x, t = _Hooks(callback, cancel, project), noise, 0.0
    f = velocity(x, _times(x, t))
    h = _initial_step(velocity, x, f, atol, rtol)
    for _ in range(max_steps):
        if t >= 1.0:
            return x
        hooks.check()
        h = min(h, 1.0 - t)
        ks = [f]
        for c, row in zip(_DP_C[1:], _DP_A[1:]):
            xi = x + h * sum(a * k for a, k in zip(row, ks) if a)
            ks.append(velocity(xi, _times(x, t + c * h)))
        x_new = xi  # the last stage point is the 5th-order solution (FSAL)
        err = h * sum(e * k for e, k in zip(_DP_E, ks) if e)
        scale = atol + rtol * torch.maximum(x.abs(), x_new.abs())
        ratio = float(torch.sqrt(torch.mean((err / scale) ** 2)))
        if ratio <= 1.0:
            t = 1.0 if 1.0 - (t + h) < 1e-12 else t + h
            projected = hooks.done(x_new, t)
            f = ks[-1] if projected is x_new else velocity(projected, _times(x, t))
            x = projected
        factor = 10.0 if ratio == 0 else min(10.0, max(0.2, 0.9 * ratio ** -0.2))
        h *= factor
    if t < 1.0:
        raise GPSTokenError(f"ode sampler did not reach t = 1 in {max_steps} steps (t = {t:.4f}); loosen atol/rtol")
    return x


def _initial_step(velocity: VelocityFn, x: torch.Tensor, f: torch.Tensor, atol: float, rtol: float) -> float:
    """Hairer's starting step size for a 5th-order method."""
    scale = atol + rtol * x.abs()
    d0 = float(torch.sqrt(torch.mean((x / scale) ** 2)))
    d1 = float(torch.sqrt(torch.mean((f / scale) ** 2)))
    h0 = 0.01 * d0 / d1 if d0 > 1e-5 and d1 > 1e-5 else 1e-6
    h0 = min(h0, 1.0)
    f1 = velocity(x + h0 * f, _times(x, h0))
    d2 = float(torch.sqrt(torch.mean(((f1 - f) / scale) ** 2))) / h0
    h1 = (0.01 / max(d1, d2)) ** 0.2 if max(d1, d2) > 1e-15 else max(1e-6, h0 * 1e-3)
    return min(100 * h0, h1, 1.0)
