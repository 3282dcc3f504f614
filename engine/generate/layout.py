"""Stage 1: layouts (``g_init`` of one tile) from a layout generator, calibrated into partitions.

Training examples are the official ``g_init`` of partitions of real images, in a canonical token
order (raster order of the centres, rows first) so that the model's learned positional embedding
has a consistent meaning. Samples are calibrated (paper Algorithm 2, :mod:`gpstoken.calibrate`), so
the result is always a valid halving partition with exactly N regions.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..calibrate import Calibration, calibrate
from ..config_fields import with_overrides
from ..errors import GPSTokenError
from ..partition import Partition
from ..tiling import Tiling
from ..tokens import MX, MY
from .generator import Generator
from .inpaint import KeepTokens
from .latent import from_data, to_data
from .options import LAYOUT_SAMPLING, SamplerOptions
from .samplers import CancelFn, sample
from .texture import check_labels


def canonical_order(g_init: np.ndarray) -> np.ndarray:
    """Indices that sort the tokens ``[N, >=5]`` of one tile by centre row, then column."""
    return np.lexsort((g_init[:, MX], g_init[:, MY]))


def sample_layouts(model: Generator, labels: np.ndarray | torch.Tensor | int, count: int | None = None,
                   sampling: SamplerOptions | None = None, *, generator: torch.Generator | None = None,
                   callback: Callable[[int, torch.Tensor], None] | None = None,
                   cancel: CancelFn | None = None,
                   keep: tuple[np.ndarray, np.ndarray] | None = None, **overrides) -> tuple[np.ndarray, Calibration]:
    """Raw predicted ``g_init [M,N,5]`` and their calibration (``regions [M,N,4]``, ``g_init [M,N,5]``).

    ``labels``: one class id per layout, or one id for ``count`` layouts. ``sampling``: default
    :data:`LAYOUT_SAMPLING`; its fields can also be given as keywords (``method="euler"``). ``keep=(g_init [M,N,5],
    mask [M,N])`` holds those tokens (stage-1 inpainting, as :class:`KeepTokens` does for textures).
    """
    opts = with_overrides(sampling or LAYOUT_SAMPLING, SamplerOptions, overrides, "sample_layouts")
    cfg = model.config
    if cfg.kind != "layout":
        raise GPSTokenError(f"stage 1 needs a layout generator, got a {cfg.kind} model")
    y = torch.as_tensor(np.asarray(labels) if not torch.is_tensor(labels) else labels).reshape(-1)
    m = count if count is not None else y.numel()
    y = check_labels(y, m, cfg.num_classes).to(model.pos_embed.device)
    noise = torch.randn((m, cfg.tokens, cfg.in_channels), generator=generator).to(model.pos_embed.device)

    def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model.velocity(x, t, y, cfg_scale=opts.cfg_scale, guidance_interval=opts.guidance_interval)

    project = None
    if keep is not None:
        known, mask = (torch.as_tensor(np.asarray(a)) for a in keep)
        if tuple(known.shape) != tuple(noise.shape) or tuple(mask.shape) != tuple(noise.shape[:2]):
            raise GPSTokenError(f"kept layout tokens must be [{m},{cfg.tokens},5] with a mask [{m},{cfg.tokens}]")
        kept = KeepTokens(to_data(cfg, known.to(noise.device)), mask.to(noise.device), noise)
        velocity, project = kept.velocity(velocity), kept.project
    with torch.no_grad():
        raw = from_data(cfg, sample(velocity, noise, opts.method, opts.steps, generator=generator,
                                    callback=callback, cancel=cancel, project=project))
    raw = raw.cpu().numpy()
    return raw, calibrate(raw, tokens=cfg.tokens, size=(cfg.tile, cfg.tile), min_size=cfg.min_size)


def calibrated_layout(g: np.ndarray, tokens: int | None = None, tile: int = 256, min_size: int = 8) -> Partition:
    """Any ``g_init``-like array ``[N,>=5]`` of one tile -> a valid partition of ``tokens`` (default N) regions."""
    cal = calibrate(np.asarray(g, dtype=np.float32), tokens=tokens, size=(tile, tile), min_size=min_size)
    return tile_partition(cal.regions, cal.g_init, tile)


def tile_partition(regions: np.ndarray, g_init: np.ndarray, tile: int = 256) -> Partition:
    """The Partition of a one-tile image from tile-local ``regions [N,4]`` and their ``g_init [N,5]``."""
    return Partition(np.asarray(regions, dtype=np.int64), np.asarray(g_init, dtype=np.float32),
                     Tiling((tile, tile), tile), int(len(regions)))
