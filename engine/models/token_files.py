"""Token files (.npz, :class:`gpstoken.io.tokenfile.TokenSet`) to and from the pipeline's layouts."""
from __future__ import annotations

import numpy as np

from ..errors import GPSTokenError
from ..fit_init import layout_from_token_set
from ..io.tokenfile import TokenSet
from ..partition import Partition
from ..tiling import Tiling


def partition_from_token_set(ts: TokenSet, image_size: tuple[int, int], tile: int) -> Partition:
    """The layout (``g_init``, regions) of a token file as a Partition of an ``image_size`` image,
    checked to fit that image in ``tile``-px tiles (the model's)."""
    h, w = image_size
    tile_hw = ts.tiling.tile_hw
    if tile_hw != (tile, tile):
        raise GPSTokenError(f"its tiles are {tile_hw[1]}x{tile_hw[0]} px; this model needs {tile}x{tile}")
    if tuple(ts.image_size) != (h, w):
        raise GPSTokenError(f"it is for a {ts.image_size[1]}x{ts.image_size[0]} image, not {w}x{h}")
    layout = layout_from_token_set(ts, (h, w))  # the file's grid is its tiling's (TokenSet checks it)
    return Partition(layout.regions, layout.g_init.reshape(-1, 5), Tiling((h, w), tile), layout.tokens_per_tile)


def token_set_from_partition(partition: Partition, tokens: np.ndarray | None = None) -> TokenSet:
    """The token file of a partition and (optionally) its tokenizer tokens ``[T,N,5+C]``."""
    return TokenSet(
        g_init=partition.g_init.reshape(partition.tiling.num_tiles, partition.tokens_per_tile, 5),
        regions=partition.regions_normalized(),
        tile_grid=partition.tile_grid,
        image_size=partition.image_size,
        tokens=tokens,
        tile=partition.tile,
        features="latent",
    )
