"""``gpstoken decode``: a token file to the reconstructed image (or the raw decoder output)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GPSTokenError
from .model_options import add_model_options, check_output, load_model, precision, progress, write_recon

if TYPE_CHECKING:
    from ..io.tokenfile import TokenSet
    from ..models import TokenizerConfig


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..models.config import DECODE_MODES

    p = sub.add_parser(
        "decode", help="decode a token file into an image with a tokenizer",
        description="Render and decode the tokens of a .npz token file (from `gpstoken encode`). The output is "
                    "cropped to the file's image size; .npy writes the raw float32 [3,H,W] output, unclamped.",
    )
    p.add_argument("tokens", help="token file (.npz) with tokenizer tokens (features='latent')")
    add_model_options(p, model_required=True)
    p.add_argument("--out", required=True, metavar="RECON.png|RECON.npy", help="output image or raw .npy")
    p.add_argument("--mode", choices=DECODE_MODES, default=None,
                   help="merged: one plane for all tiles; tiles: tile by tile (default: the reference's rule "
                        "for the model: tiles for 256+ tokens per tile)")
    return p


def run(args: argparse.Namespace) -> int:
    from ..io.tokenfile import TokenSet
    from ..models.pipeline import decode_tokens

    out = check_output(args.out, allow_npy=True)
    ts = TokenSet.load(args.tokens)
    model = load_model(args)
    check_decodable(ts, Path(args.tokens).name, model.config)
    with progress(1, "image", args.quiet) as bar:
        bar.set_description(f"decode {ts.num_tiles} tile(s)")
        recon = decode_tokens(model, ts.tokens, ts.tile_grid, ts.image_size, args.mode, precision(args))
        bar.update()
    write_recon(out, recon)
    return 0


def check_decodable(ts: TokenSet, name: str, config: TokenizerConfig) -> None:
    """One line naming the problem when a token file cannot be decoded by a model of ``config``."""
    if ts.tokens is None:
        raise GPSTokenError(f"{name} holds only a layout (g_init), no tokens: encode an image first")
    if ts.features != "latent":
        raise GPSTokenError(f"{name} holds fitted {ts.features.upper()} colours, not tokenizer features: "
                            "view it with `gpstoken render`, or encode the image with a model")
    if ts.feature_channels != config.gps_c:
        raise GPSTokenError(f"{name} has {ts.feature_channels} feature channels but this model decodes "
                            f"{config.gps_c} (tokens from another model?)")
    tile_hw = ts.tiling.tile_hw
    if tile_hw != (config.tile_size, config.tile_size):
        raise GPSTokenError(f"{name} uses {tile_hw[1]}x{tile_hw[0]} tiles; this model decodes "
                            f"{config.tile_size}x{config.tile_size}")
