"""``gpstoken fit``: per-image fitting of RGB Gaussian tokens (no model), with a progress bar."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

from ..io.atomic import atomic_path, check_output_file
from ..io.bias_map import DEFAULT_SCALE
from .model_options import check_json_output, check_output, progress


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..fit_options import FREEZE_MODES, FitOptions

    d = FitOptions()
    p = sub.add_parser(
        "fit", help="fit RGB Gaussian tokens to one image by optimisation (no model needed)",
        description="Optimise the Gaussians and RGB colours of the tokens of one image against it.",
    )
    p.add_argument("image", help="input image")
    p.add_argument("--tokens", type=int, help="tokens per tile (default: the --init file's)")
    p.add_argument("--init", default="adaptive", metavar="adaptive|grid|INIT.npz",
                   help="start layout: entropy partition, uniform grid, or a token file (default adaptive)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimisation steps (default {d.steps})")
    p.add_argument("--bias", metavar="MAP", help="density bias map for the adaptive layout (.npy or image)")
    p.add_argument("--bias-scale", type=float, default=DEFAULT_SCALE,
                   help=f"bias per pixel for white in a bias image (default {DEFAULT_SCALE:g})")
    p.add_argument("--out", required=True, metavar="RECON.png", help="reconstruction image")
    p.add_argument("--tokens-out", metavar="TOKENS.npz", help="token file (features='rgb'); must end in .npz")
    p.add_argument("--json", metavar="METRICS.json", help="metrics of the reconstruction and fit facts (- for stdout)")
    p.add_argument("--lr-geometry", type=float, default=d.lr_geometry, help=f"default {d.lr_geometry}")
    p.add_argument("--lr-features", type=float, default=d.lr_features, help=f"default {d.lr_features}")
    p.add_argument("--freeze", choices=FREEZE_MODES, default="none", help="keep geometry or colours fixed")
    p.add_argument("--support", type=float, default=d.support, help=f"support in sigmas (default {d.support:g})")
    p.add_argument("--tile", type=int, default=d.tile, help="tile side; 0 = the whole image (default 256)")
    p.add_argument("--lam", type=float, default=d.lam, help=f"adaptive layout: lambda (default {d.lam})")
    p.add_argument("--min-size", type=int, default=None,
                   help="adaptive layout: smallest region side (default 8 up to 512 tokens per 256-px tile, "
                        "4 up to 2048, then 2)")
    p.add_argument("--device", help="torch device (default: CUDA if present, else CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args: argparse.Namespace) -> int:
    from ..fit import fit
    from ..io.bias_map import load_bias_map
    from ..io.images import load_image, save_image
    from ..metrics import evaluate

    # every output is checked before the optimisation, so a bad later path never leaves the PNG half-done
    check_output(args.out, allow_npy=False)
    if args.tokens_out:
        check_output_file(args.tokens_out, "--tokens-out", (".npz",))
    check_json_output(args.json)
    image = load_image(args.image)
    bias = None if args.bias is None else load_bias_map(args.bias, scale=args.bias_scale)
    every = max(1, args.steps // 100)
    bar = progress(args.steps, "step", args.quiet)

    def on_step(step: int, loss: float, psnr: float) -> None:
        bar.update(step - bar.n)
        bar.set_postfix(psnr=f"{psnr:.2f}dB")

    t0 = time.perf_counter()
    try:
        result = fit(
            image, args.tokens, init=args.init, bias=bias, progress=on_step, steps=args.steps,
            lr_geometry=args.lr_geometry, lr_features=args.lr_features, freeze=args.freeze, support=args.support,
            tile=args.tile, lam=args.lam, min_size=args.min_size, device=args.device, progress_every=every,
        )
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    if result.message:
        print(f"gpstoken fit: {result.message}", file=sys.stderr)
    save_image(args.out, result.recon_uint8)
    if args.tokens_out:
        result.to_token_set().save(args.tokens_out)
    if args.json:
        report = {key: _json_number(v) for key, v in evaluate(image, result.recon_uint8).items()}
        report["fit"] = {
            "tokens_per_tile": result.layout.tokens_per_tile,
            "tokens": result.layout.num_tokens,
            "tile_grid": list(result.layout.tile_grid),
            "init": str(args.init),
            "steps": result.steps_done,
            "stopped": result.stopped,
            "psnr_float": _json_number(result.psnr),
            "psnr_start": _json_number(float(result.psnr_history[0])),
            "seconds": round(seconds, 3),
        }
        text = json.dumps(report, indent=1) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            with atomic_path(args.json) as tmp:
                tmp.write_text(text)
    return 0


def _json_number(v: float) -> float | None:
    """JSON has no inf: an identical reconstruction's PSNR is written as null."""
    return float(v) if math.isfinite(v) else None
