"""``gpstoken render``: splat a token file into a feature map (.npy)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import GPSTokenError
from ..io.atomic import atomic_path, check_output_file
from ..limits import check_array_bytes

if TYPE_CHECKING:
    from ..io.tokenfile import TokenSet

LATENT_GRID_PER_TILE = 64


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("render", help="render a token file to a feature map",
                       description="Splat the tokens of a .npz token file into a float32 [C,H,W] .npy map.")
    p.add_argument("tokens", help="token file (.npz) holding 'tokens'")
    p.add_argument("--out", required=True, help="output .npy")
    p.add_argument("--grid", type=int, nargs=2, metavar=("H", "W"),
                   help="grid size (default: 64 per 256-px tile for latent tokens, full resolution for rgb tokens)")
    p.add_argument("--support", type=float, default=3.0, help="support factor in sigmas (default 3)")
    return p


def default_grid(ts: TokenSet) -> tuple[int, int]:
    """The reference's 64x64 grid per tile for latent tokens; the tiled canvas in pixels for rgb ones."""
    if ts.features == "rgb":
        return ts.tiling.canvas_size
    rows, cols = ts.tile_grid
    return rows * LATENT_GRID_PER_TILE, cols * LATENT_GRID_PER_TILE


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..io.tokenfile import TokenSet
    from ..render import render
    from ..tokens import merge_tiles

    check_output_file(args.out, "--out", (".npy",))
    ts = TokenSet.load(args.tokens)
    if ts.tokens is None:
        raise GPSTokenError(f"{args.tokens} holds only a layout (g_init); it has no 'tokens' to render")
    grid = tuple(args.grid) if args.grid else default_grid(ts)
    if min(grid) < 2:
        raise GPSTokenError(f"--grid must be at least 2x2, got {grid[0]}x{grid[1]}")
    check_array_bytes(grid[0] * grid[1] * ts.tokens.shape[-1] * 4, f"--grid {grid[0]} {grid[1]}: the feature map")
    if not args.support > 0 or args.support == float("inf"):
        raise GPSTokenError(f"--support must be a positive number, got {args.support}")
    merged = merge_tiles(torch.from_numpy(ts.tokens), ts.tile_grid)
    with torch.inference_mode():
        features = render(merged, size=grid, support=args.support)[0].numpy().astype(np.float32)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as fh:
        np.save(fh, features)
    return 0
