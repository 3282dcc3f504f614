"""``gpstoken partition``: the entropy partition of an image as JSON, with an optional overlay PNG."""
from __future__ import annotations

import argparse
import json
import sys

from ..io.atomic import atomic_path
from ..io.bias_map import DEFAULT_SCALE
from .model_options import check_json_output, check_output


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "partition", help="partition an image into token regions (g_init)",
        description="The reference's entropy partition: regions in pixels and their official g_init, as JSON.",
    )
    p.add_argument("image", help="input image")
    p.add_argument("--tokens", type=int, required=True, help="tokens (regions) per tile")
    p.add_argument("--lam", type=float, default=2.5, help="entropy exponent lambda (default 2.5)")
    p.add_argument("--min-size", type=int, default=8, help="regions stop splitting at this side (default 8)")
    p.add_argument("--tile", type=int, default=256, help="tile side in pixels; 0 = the whole image (default 256)")
    p.add_argument("--bias", metavar="MAP",
                   help="bias map of the image's size: .npy as-is, or an image (grey scaled by --bias-scale)")
    p.add_argument("--bias-scale", type=float, default=DEFAULT_SCALE,
                   help=f"bias per pixel for white in a bias image (default {DEFAULT_SCALE:g})")
    p.add_argument("--json", required=True, metavar="OUT", help="output JSON file, or - for stdout")
    p.add_argument("--overlay", metavar="PNG", help="also draw the regions and 1-sigma ellipses on the image")
    return p


def run(args: argparse.Namespace) -> int:
    from ..io.bias_map import load_bias_map
    from ..io.images import load_image, save_image
    from ..partition import partition

    check_json_output(args.json)
    if args.overlay:
        check_output(args.overlay, allow_npy=False, what="--overlay")
    image = load_image(args.image)
    bias = None if args.bias is None else load_bias_map(args.bias, scale=args.bias_scale)
    result = partition(image, args.tokens, lam=args.lam, min_size=args.min_size, tile=args.tile, bias=bias)
    text = json.dumps(result.to_json()) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    else:
        with atomic_path(args.json) as tmp:
            tmp.write_text(text)
    if args.overlay:
        from ..overlay import draw_partition

        save_image(args.overlay, draw_partition(image, result))
    return 0
