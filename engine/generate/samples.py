"""Sample pictures of generator training runs: a strip of generated layouts or textures on grey tiles."""
from __future__ import annotations

import numpy as np

from ..train.samples import draw_gaussians, sample_grid
from .generator import Generator
from .layout import sample_layouts
from .texture import sample_tokens

GREY, STEPS = 128, 20


def _token_colours(tokens: np.ndarray) -> np.ndarray:
    """uint8 RGB per token from its first (up to three) texture channels, min-max scaled over the sample."""
    tex = tokens[..., 5:8]
    tex = np.concatenate([tex, np.repeat(tex[..., :1], 3 - tex.shape[-1], axis=-1)], axis=-1) if tex.shape[-1] < 3 else tex
    low, high = tex.min(axis=(0, 1)), tex.max(axis=(0, 1))
    return np.round(255 * (tex - low) / np.maximum(high - low, 1e-6)).astype(np.uint8)


def sample_strip(model: Generator, arrays: dict[str, np.ndarray], count: int) -> np.ndarray:
    """uint8 RGB: ``count`` tiles side by side; classes cycle through the training labels.

    Layout models: calibrated sampled layouts as ellipses. Texture models: tokens generated on the
    first training layouts, each ellipse coloured by the token's first texture channels.
    """
    cfg = model.config
    labels = np.resize(np.unique(arrays["labels"]), count)
    canvas = np.full((cfg.tile, cfg.tile, 3), GREY, np.uint8)
    if cfg.kind == "layout":
        _, cal = sample_layouts(model, labels, method="ode", steps=STEPS)
        tiles = [draw_gaussians(canvas, g) for g in cal.g_init]
    else:
        g = np.resize(arrays["g_init"], (count, *arrays["g_init"].shape[1:]))
        labels = np.resize(arrays["labels"], count)
        tokens = sample_tokens(model, g, labels, method="ode", steps=STEPS).cpu().numpy()
        tiles = []
        for sample, colours in zip(tokens, _token_colours(tokens)):
            tile = canvas
            for token, colour in zip(sample, colours):
                tile = draw_gaussians(tile, token[None], tuple(int(c) for c in colour))
            tiles.append(tile)
    return sample_grid([np.concatenate(tiles, axis=1)])
