"""Token files (.npz, :class:`gpstoken.io.tokenfile.TokenSet`) to and from the pipeline's layouts."""
from __future__ import annotations

import math

import numpy as np

from ..errors import GPSTokenError
from ..fit_init import layout_from_token_set
from ..io.tokenfile import TokenSet
from ..partition import Partition


def partition_from_token_set(ts: TokenSet, image_size: tuple[int, int], tile: int) -> Partition:
    """The layout (``g_init``, regions) of a token file as a Partition of an ``image_size`` image,
    checked to fit that image in ``tile``-px tiles (the model's)."""
    h, w = image_size
    tile_hw = tuple(ts.image_size) if ts.tile == 0 else (ts.tile, ts.tile)
    if tile_hw != (tile, tile):
        raise GPSTokenError(f"its tiles are {tile_hw[1]}x{tile_hw[0]} px; this model needs {tile}x{tile}")
    if tuple(ts.image_size) != (h, w):
        raise GPSTokenError(f"it is for a {ts.image_size[1]}x{ts.image_size[0]} image, not {w}x{h}")
    grid = (math.ceil(h / tile), math.ceil(w / tile))
    if tuple(ts.tile_grid) != grid:
        raise GPSTokenError(f"its tile grid {ts.tile_grid[0]}x{ts.tile_grid[1]} does not fit a {w}x{h} image "
                            f"({grid[0]}x{grid[1]} tiles of {tile} px)")
    layout = layout_from_token_set(ts, (h, w))
    return Partition(layout.regions, layout.g_init.reshape(-1, 5), grid, (h, w), tile, layout.tokens_per_tile)


def token_set_from_partition(partition: Partition, tokens: np.ndarray | None = None) -> TokenSet:
    """The token file of a partition and (optionally) its tokenizer tokens ``[T,N,5+C]``."""
    rows, cols = partition.tile_grid
    return TokenSet(
        g_init=partition.g_init.reshape(rows * cols, partition.tokens_per_tile, 5),
        regions=partition.regions_normalized(),
        tile_grid=partition.tile_grid,
        image_size=partition.image_size,
        tokens=tokens,
        tile=partition.tile,
        features="latent",
    )
