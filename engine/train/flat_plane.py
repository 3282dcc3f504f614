"""The flat-plane term of tokenizer training: a flat image of 2x2 tiles in a random colour is encoded
tile by tile, decoded on one merged plane and its detail is penalised.

Why (issue 13): photo training leaves a speckle blob at each tile's bottom-right token. It costs only
a few levels of squared error, too little for the photo loss to remove, and single-tile crops never
show the inside of a merged plane, where two of each tile's corners lie. On a flat image any detail
is an artefact, so the term is the detail itself: the mean |Laplacian| plus an L4 norm over 32-px
windows (which weights the one window holding a blob far above a faint texture everywhere).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

WINDOW = 32  # pixels a side of the windows whose mean detail the L4 norm is taken over
POWER = 4
COLOUR_RANGE = 0.9  # colours are drawn per channel from [-0.9, 0.9] of the model's [-1, 1]


def detail_map(images: torch.Tensor) -> torch.Tensor:
    """``[B,3,H,W]`` -> ``[B,1,H-2,W-2]``: |4-neighbour Laplacian| averaged over channels."""
    x = images.float()
    lap = 4 * x[..., 1:-1, 1:-1] - x[..., :-2, 1:-1] - x[..., 2:, 1:-1] - x[..., 1:-1, :-2] - x[..., 1:-1, 2:]
    return lap.abs().mean(1, keepdim=True)


def flat_penalty(images: torch.Tensor, colour: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(detail, squared error)`` of decodes ``[B,3,H,W]`` of flat images of ``colour [3]``."""
    d = detail_map(images)
    windows = F.avg_pool2d(d, WINDOW, WINDOW, ceil_mode=True)
    detail = d.mean() + windows.pow(POWER).mean().pow(1 / POWER)
    return detail, (images.float() - colour.view(1, 3, 1, 1)).pow(2).mean()


class FlatPlaneTerm:
    """Encodes and decodes one random-colour flat plane of 2x2 ``tile``-px tiles per call."""

    def __init__(self, tile: int, tokens: int, lam: float, min_size: int) -> None:
        from ..partition import partition

        layout = partition(np.full((2 * tile, 2 * tile, 3), 128, np.uint8), tokens, lam=lam,
                           min_size=min_size, tile=tile)
        self.tile = tile
        self.g_init = torch.from_numpy(np.ascontiguousarray(layout.g_init, dtype=np.float32)).reshape(4, tokens, 5)
        self.regions = torch.from_numpy(np.ascontiguousarray(layout.regions_normalized(), dtype=np.float32))

    def __call__(self, model: torch.nn.Module, weight: float) -> tuple[torch.Tensor, dict[str, float]]:
        """``weight * detail + squared error`` of one plane (colour from torch's global RNG, so a resumed
        run draws the same colours) and its parts for the log."""
        device = next(model.parameters()).device
        colour = (torch.rand(3) * 2 - 1) * COLOUR_RANGE
        tiles = colour.view(1, 3, 1, 1).expand(4, 3, self.tile, self.tile).to(device)
        planes = model.decode(model.encode(tiles, self.g_init, self.regions), (2, 2), "merged")
        detail, error = flat_penalty(planes, colour.to(device))
        return weight * detail + error, {"flat_detail": detail.item(), "flat_mse": error.item()}
