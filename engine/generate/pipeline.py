"""Two-stage generation of images: layout (stage 1, or given) -> tokens (stage 2) -> tokenizer decode."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..config_fields import with_overrides
from ..errors import GPSTokenError
from ..io.tokenfile import TokenSet
from ..models.pipeline import decode_tokens, to_uint8
from ..models.token_files import token_set_from_partition
from ..models.tokenizer import GPSTokenizer
from ..partition import Partition
from .generator import Generator
from .layout import sample_layouts, tile_partition
from .options import GenerateOptions, SamplerOptions
from .samplers import CancelFn
from .texture import check_labels, sample_tokens


@dataclass(frozen=True, eq=False)
class Generated:
    """One generated image: its class, layout, tokens ``[T,N,5+C]`` and raw decoder output ``[3,H,W]``
    (None when generated with ``decode=False``)."""

    label: int
    layout: Partition
    tokens: np.ndarray
    recon: np.ndarray | None

    def image(self) -> np.ndarray:
        """HxWx3 uint8, quantised as the reference saves images."""
        return to_uint8(self.recon)

    def token_set(self) -> TokenSet:
        """The token file of this image."""
        return token_set_from_partition(self.layout, self.tokens)


def check_compatible(texture_model: Generator, tokenizer: GPSTokenizer) -> None:
    """One-line error unless the texture model's tokens fit the tokenizer (channels and tile size)."""
    t, k = texture_model.config, tokenizer.config
    if t.texture_channels != k.gps_c:
        raise GPSTokenError(f"the texture generator makes tokens with {t.texture_channels} texture channels; "
                            f"the tokenizer needs {k.gps_c}")
    if t.tile != k.tile_size:
        raise GPSTokenError(f"the texture generator works on {t.tile}-px tiles; "
                            f"the tokenizer on {k.tile_size}-px tiles")


def generate(texture_model: Generator, tokenizer: GPSTokenizer, labels: list[int] | int = 0, count: int = 1, *,
             layouts: list[Partition] | None = None, layout_model: Generator | None = None,
             keep: tuple[np.ndarray, np.ndarray] | None = None, options: GenerateOptions | None = None,
             callback: Callable[[int, int, torch.Tensor], None] | None = None,
             cancel: CancelFn | None = None, **overrides) -> list[Generated]:
    """``count`` images of class ``labels`` (one id, or one per image).

    Layouts: ``layouts`` (one Partition per image, or one for all), else sampled by ``layout_model``
    and calibrated. ``keep=(tokens [T,N,5+C], mask [T,N])`` keeps those tokens of the (single given)
    layout. ``options`` (:class:`GenerateOptions`; its fields can also be given as keywords, ``steps=8``):
    samplers, guidance, seed and ``decode``. ``callback(image_index, step, tokens)`` reports stage-2
    progress. Image ``i`` uses seed ``seed + i``, so results do not depend on ``count``.
    """
    opts = with_overrides(options, GenerateOptions, overrides, "generate")
    check_compatible(texture_model, tokenizer)
    y = check_labels(labels, count, texture_model.config.num_classes).tolist()
    if layouts is None and layout_model is None:
        raise GPSTokenError("need a layout (file) or a layout model for stage 1")
    if layouts is not None and len(layouts) not in (1, count):
        raise GPSTokenError(f"need one layout per image ({count}) or one for all, got {len(layouts)}")
    out = []
    for i, label in enumerate(y):
        gen = torch.Generator().manual_seed(opts.seed + i)
        if layouts is None:
            layout = _stage_one(layout_model, label, opts.layout_sampling, gen)
        else:
            layout = layouts[i if len(layouts) > 1 else 0]
        g = layout.g_init.reshape(layout.tiling.num_tiles, layout.tokens_per_tile, 5)
        progress = None if callback is None else (lambda step, tok, i=i: callback(i, step, tok))
        tokens = sample_tokens(texture_model, g, label, opts.texture_sampling, generator=gen, keep=keep,
                               callback=progress, cancel=cancel).cpu().numpy()
        recon = decode_tokens(tokenizer, tokens, layout.tile_grid, layout.image_size) if opts.decode else None
        out.append(Generated(int(label), layout, tokens, recon))
    return out


def _stage_one(layout_model: Generator, label: int, sampling: SamplerOptions, generator: torch.Generator) -> Partition:
    if layout_model.config.num_classes == 1:
        label, sampling = 0, dataclasses.replace(sampling, cfg_scale=1.0)  # an unconditional model serves every class
    _, cal = sample_layouts(layout_model, label, 1, sampling, generator=generator)
    return tile_partition(cal.regions[0], cal.g_init[0], layout_model.config.tile)
