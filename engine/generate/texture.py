"""Stage 2: tokens (geometry residual + texture) for given layouts with a texture generator."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..config_fields import with_overrides
from ..errors import GPSTokenError
from ..tokens import check_gaussians
from .generator import Generator
from .inpaint import KeepTokens
from .latent import from_data, to_data
from .options import TEXTURE_SAMPLING, SamplerOptions
from .samplers import CancelFn, sample


def sample_tokens(model: Generator, g_init: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor | int,
                  sampling: SamplerOptions | None = None, *, generator: torch.Generator | None = None,
                  keep: tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor] | None = None,
                  callback: Callable[[int, torch.Tensor], None] | None = None, cancel: CancelFn | None = None,
                  atol: float = 1e-6, rtol: float = 1e-3, **overrides) -> torch.Tensor:
    """Tokens ``[M,N,5+C]`` for layouts ``g_init [M,N,5]`` and class ids ``labels [M]`` (or one id).

    ``sampling``: default :data:`TEXTURE_SAMPLING`; its fields can also be given as keywords (``steps=8``).
    ``keep=(tokens [M,N,5+C], mask [M,N])``: those tokens are kept exactly and the others generated.
    ``callback(step, tokens)`` gets the current state mapped to tokens after every sampler step.
    """
    opts = with_overrides(sampling or TEXTURE_SAMPLING, SamplerOptions, overrides, "sample_tokens")
    cfg = model.config
    if cfg.kind != "texture":
        raise GPSTokenError(f"stage 2 needs a texture generator, got a {cfg.kind} model")
    device = model.pos_embed.device
    g = torch.as_tensor(np.asarray(g_init, dtype=np.float32) if not torch.is_tensor(g_init) else g_init)
    g = g.to(device, torch.float32)
    if g.dim() != 3 or g.shape[-1] != 5:
        raise GPSTokenError(f"layouts must be [M,N,5], got {tuple(g.shape)}")
    check_gaussians(g, "layout")
    y = check_labels(labels, g.shape[0], cfg.num_classes).to(device)
    noise = torch.randn((*g.shape[:2], cfg.in_channels), generator=generator).to(device)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model.velocity(x, t, y, cond=g, cfg_scale=opts.cfg_scale, guidance_interval=opts.guidance_interval)

    project, kept = None, None
    if keep is not None:
        kept_tokens, mask = (torch.as_tensor(np.asarray(a)) if not torch.is_tensor(a) else a for a in keep)
        kept_tokens, mask = kept_tokens.to(device, torch.float32), mask.to(device).bool()
        want = (*g.shape[:2], cfg.in_channels)
        if tuple(kept_tokens.shape) != want or tuple(mask.shape) != tuple(g.shape[:2]):
            raise GPSTokenError(f"kept tokens must be [M,N,{5 + cfg.texture_channels}] with a mask [M,N] "
                                f"matching the layouts {tuple(g.shape[:2])}")
        kept = KeepTokens(to_data(cfg, kept_tokens, g), mask, noise)
        velocity, project = kept.velocity(velocity), kept.project
    progress = None if callback is None else (lambda step, x: callback(step, from_data(cfg, x, g)))
    with torch.no_grad():
        data = sample(velocity, noise, opts.method, opts.steps, atol=atol, rtol=rtol, generator=generator,
                      callback=progress, cancel=cancel, project=project)
        tokens = from_data(cfg, data, g)
    if kept is not None:
        tokens = torch.where(kept.mask, kept_tokens, tokens)
    return tokens


def check_labels(labels: np.ndarray | torch.Tensor | int, count: int, num_classes: int) -> torch.Tensor:
    """Class ids as a long tensor ``[count]``, each in ``0..num_classes-1`` (one-line error otherwise)."""
    y = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels).long().reshape(-1)
    if y.numel() == 1:
        y = y.expand(count).clone()
    if y.numel() != count:
        raise GPSTokenError(f"need one class id per sample ({count}), got {y.numel()}")
    bad = (y < 0) | (y >= num_classes)
    if bool(bad.any()):
        raise GPSTokenError(f"class id {int(y[bad][0])} is out of range: this model knows classes 0..{num_classes - 1}")
    return y
