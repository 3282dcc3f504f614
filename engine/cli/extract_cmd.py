"""``gpstoken extract``: encode an image folder into a token dataset for training a texture generator."""
from __future__ import annotations

import argparse
import json

from ..errors import GPSTokenError
from ..io.atomic import check_output_dir
from .model_options import add_model_options, load_model, progress


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("extract", help="encode images into a token dataset (for gpstoken train texture)",
                       description="Encode every image of --data (shorter side to --size, centre crop) with a "
                                   "tokenizer into --out/<name>.npz token files plus --out/index.json "
                                   "(class ids from first-level sub-folders).")
    add_model_options(p, model_required=False)
    p.add_argument("--data", required=True, help="image folder (sub-folders = classes) or list file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--tokens", type=int, help="tokens per tile (default: the model's)")
    p.add_argument("--size", type=int, default=256, help="image side after resize and centre crop (default 256)")
    p.add_argument("--min-size", type=int, default=8, help="smallest region side of the partition (default 8)")
    p.add_argument("--flip", action="store_true", help="also encode each image mirrored left-right")
    return p


def run(args: argparse.Namespace) -> int:
    from ..generate.data import extract_tokens

    check_output_dir(args.out)
    if args.tokens is not None and args.tokens < 1:
        raise GPSTokenError(f"--tokens must be >= 1, got {args.tokens}")
    if args.size < 8:
        raise GPSTokenError(f"--size must be >= 8, got {args.size}")
    if args.min_size < 1:
        raise GPSTokenError(f"--min-size must be >= 1, got {args.min_size}")
    model = load_model(args)
    with progress(0, "img", args.quiet) as bar:
        def report(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        index = extract_tokens(model, args.data, args.out, tokens_per_tile=args.tokens, size=args.size, progress=report,
                               min_size=args.min_size, flip=args.flip)
    print(json.dumps({"files": len(index["files"]), "skipped": index["skipped"], "classes": index["classes"]}))
    return 0
