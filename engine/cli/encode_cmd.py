"""``gpstoken encode``: an image to its tokenizer tokens (a .npz token file)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GPSTokenError
from ..io.atomic import check_output_file
from .model_options import SIZE_POLICY, add_model_options, load_model, precision, progress
from .refine_options import add_refine_option, check_refine, refine_tokens


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "encode", help="encode an image into tokens with a tokenizer",
        description="Partition an image (or take the layout of --init) and encode every tile into "
                    f"tokens [T,N,5+C]. Sizes: {SIZE_POLICY}.",
    )
    p.add_argument("image", help="input image (grey, RGBA and 16-bit images are converted to 8-bit RGB)")
    add_model_options(p, model_required=True)
    p.add_argument("--tokens", type=int, help="tokens per tile (default: the model's, or the --init file's)")
    p.add_argument("--init", metavar="INIT.npz", help="take g_init/regions from this token file instead of partitioning")
    p.add_argument("--out", required=True, metavar="TOKENS.npz", help="output token file")
    add_refine_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from ..io.images import load_image
    from ..io.tokenfile import TokenSet
    from ..models.pipeline import encode_image, partition_image
    from ..models.token_files import partition_from_token_set, token_set_from_partition

    check_output_file(args.out, "--out", (".npz",))
    if args.tokens is not None and args.tokens < 1:
        raise GPSTokenError(f"--tokens must be >= 1, got {args.tokens}")
    check_refine(args)
    model = load_model(args)
    image = load_image(args.image)
    layout = None
    if args.init:
        init = TokenSet.load(args.init)
        try:
            layout = partition_from_token_set(init, image.shape[:2], model.config.tile_size)
        except GPSTokenError as exc:
            raise GPSTokenError(f"{Path(args.init).name} does not fit {Path(args.image).name}: {exc}") from None
        if args.tokens is not None and args.tokens != layout.tokens_per_tile:
            raise GPSTokenError(f"--tokens {args.tokens} disagrees with {Path(args.init).name} "
                                f"({layout.tokens_per_tile} tokens per tile)")
    with progress(3 if args.refine else 2, "step", args.quiet) as bar:
        if layout is None:
            bar.set_description("partition")
            layout = partition_image(model, image, args.tokens)
        bar.update()
        bar.set_description(f"encode {layout.tiling.num_tiles} tile(s)")
        layout, tokens = encode_image(model, image, layout, precision=precision(args))
        bar.update()
        if args.refine:
            bar.set_description("refine")
            tokens, _ = refine_tokens(model, image, tokens, layout.tile_grid, args,
                                      lambda s: bar.set_postfix_str(f"step {s.step}: {s.psnr:.2f} dB"))
            bar.update()
    token_set_from_partition(layout, tokens).save(args.out)
    return 0
