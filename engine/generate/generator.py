"""A generator: the SiT backbone plus its public velocity API with classifier-free guidance."""
from __future__ import annotations

import torch

from ..errors import GPSTokenError
from .sit import SiT


class Generator(SiT):
    """Velocity model over token sets of one tile (layout or texture, see :class:`GeneratorConfig`)."""

    def velocity(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | int,
                 cond: torch.Tensor | None = None, cfg_scale: float = 1.0,
                 guidance_interval: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
        """Velocity ``[B,N,C]`` at data ``x [B,N,C]``, times ``t [B]``, labels ``y [B]`` (null class =
        ``num_classes``) and layouts ``cond [B,N,5]`` or None.

        With ``cfg_scale != 1`` the conditional and unconditional passes run together (same ``x``,
        same ``cond``, only the label dropped) and ``u + s * (c - u)`` is returned for samples with
        ``low <= t <= high``; the others get the plain conditional output.
        """
        x, t, y = self._check_inputs(x, t, y, cond)
        if cfg_scale == 1.0:
            return self(x, t, y, cond)
        low, high = guidance_interval
        inside = (t >= low) & (t <= high)
        if not bool(inside.any()):
            return self(x, t, y, cond)
        null = torch.full_like(y, self.config.null_class)
        both = self(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]),
                    None if cond is None else torch.cat([cond, cond]))
        c, u = both.chunk(2)
        guided = u + cfg_scale * (c - u)
        return torch.where(inside[:, None, None], guided, c)

    def _check_inputs(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | int,
                      cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        cfg = self.config
        if x.dim() != 3 or x.shape[-1] != cfg.in_channels:
            raise GPSTokenError(f"velocity: x must be [B,N,{cfg.in_channels}], got {tuple(x.shape)}")
        b, n = x.shape[:2]
        if cond is None and n != cfg.tokens:
            raise GPSTokenError(f"velocity: without a layout this model needs {cfg.tokens} tokens, got {n}")
        if cond is not None:
            if not cfg.cond_channels:
                raise GPSTokenError("velocity: this model takes no layout condition")
            if tuple(cond.shape) != (b, n, cfg.cond_channels):
                raise GPSTokenError(f"velocity: cond must be [{b},{n},{cfg.cond_channels}], got {tuple(cond.shape)}")
        t = torch.as_tensor(t, dtype=torch.float32, device=x.device)
        y = torch.as_tensor(y, dtype=torch.long, device=x.device)
        t, y = (t.expand(b) if t.dim() == 0 else t), (y.expand(b) if y.dim() == 0 else y)
        if t.shape != (b,) or y.shape != (b,):
            raise GPSTokenError(f"velocity: t and y must have one value per sample ({b}), "
                                f"got {tuple(t.shape)} and {tuple(y.shape)}")
        if bool(((y < 0) | (y > cfg.null_class)).any()):
            raise GPSTokenError(f"velocity: class ids must be in 0..{cfg.num_classes - 1} "
                                f"(or {cfg.null_class} for none), got {y.tolist()}")
        return x, t, y
