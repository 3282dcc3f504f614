"""``gpstoken generate``: two-stage generation (layout -> tokens -> image) with the generators."""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..errors import GPSTokenError
from ..io.atomic import check_output_dir
from .model_options import add_model_options, load_model, progress


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="generate images (layout model -> texture model -> tokenizer)",
                       description="Generate images: stage 1 samples a layout and calibrates it (skipped with "
                                   "--layout), stage 2 samples the tokens for it, the tokenizer decodes them. "
                                   "Writes OUT/NNNNNN.png and OUT/NNNNNN.npz (token file) per image.")
    add_model_options(p, model_required=False)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--num", type=int, default=1, help="number of images (default 1)")
    p.add_argument("--class", dest="label",
                   help="class id, or a class name of the --models set (default: image i gets class i mod the "
                        "number of classes)")
    p.add_argument("--models", metavar="SET", help="a bundled model set (emoji) or a folder with tokenizer, layout "
                   "and texture .safetensors (+ classes.json); --model/--layout-model/--texture-model override "
                   "its files (default: the bundled tiny models)")
    p.add_argument("--layout", metavar="SKETCH", help="layout or sketch to use (token file .npz or [K,5] .npy, any "
                   "number of Gaussians K): each Gaussian a region of the halving approximates (box IoU >= 0.5) is "
                   "kept as one token, the rest is filled by --sketch-fill, then calibrated")
    p.add_argument("--sketch-fill", choices=("model", "density"), default="model",
                   help="what fills the layout around a --layout sketch's kept tokens: the layout model "
                        "(stage-1 inpainting around the sketch's outlines; default) or the sketch's outline density")
    p.add_argument("--keep", metavar="TOKENS.npz", help="token file whose tokens are partly kept (its layout is used)")
    p.add_argument("--keep-mask", metavar="MASK", help="which tokens of --keep to keep: .npy bool [T,N] or a mask "
                                                        "image (tokens centred on non-zero pixels)")
    p.add_argument("--sampler", choices=("ode", "sde", "euler", "heun"),
                   help="stage-2 sampler (default: the --models set's recipe, else ode: adaptive dopri5; the "
                        "reference uses sde with 250 steps)")
    p.add_argument("--steps", type=int, help="steps of sde/euler/heun (default: the set's recipe, else 250)")
    p.add_argument("--cfg", type=float, help="classifier-free guidance scale (default: the set's recipe, else 1: off)")
    p.add_argument("--guidance", type=float, nargs=2, metavar=("LOW", "HIGH"),
                   help="apply guidance only for LOW <= t <= HIGH (t = 1 is data; default: the set's recipe, else 0 1)")
    p.add_argument("--seed", type=int, default=0, help="image i uses seed SEED+i (default 0)")
    p.add_argument("--layout-model", metavar="CKPT", help="layout generator (default: the bundled one), or the "
                   "official release's layout cache (initg.pickle: per-class layouts, one drawn per image)")
    p.add_argument("--layout-sampler", choices=("ode", "sde", "euler", "heun"),
                   help="stage-1 (layout) sampler (default: the set's recipe, else ode)")
    p.add_argument("--layout-steps", type=int, help="steps of the stage-1 sde/euler/heun sampler "
                                                    "(default: the set's recipe, else 50)")
    p.add_argument("--texture-model", metavar="CKPT", help="texture generator (default: the bundled one)")
    p.add_argument("--texture-config", metavar="YAML", help="config of an official texture generator file")
    return p


# the command's sampling without a set's recipe: the adaptive ODE for both stages, no guidance
DEFAULT_SAMPLING = {"method": "ode", "steps": 250, "cfg_scale": 1.0, "guidance_interval": (0.0, 1.0),
                    "layout_method": "ode", "layout_steps": 50}


def generate_options(args: argparse.Namespace, model_set=None):
    """The sampling options: each flag given, else the model set's recipe (``sampling.json``), else the default."""
    from ..generate import GenerateOptions

    flags = {"method": args.sampler, "steps": args.steps, "cfg_scale": args.cfg,
             "guidance_interval": None if args.guidance is None else tuple(args.guidance),
             "layout_method": args.layout_sampler, "layout_steps": args.layout_steps}
    recipe = {**DEFAULT_SAMPLING, **({} if model_set is None else model_set.sampling)}
    recipe.update({key: value for key, value in flags.items() if value is not None})
    return GenerateOptions(**recipe, seed=args.seed)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np
    import torch

    from ..generate import generate, load_generator
    from ..generate.bundled import bundled_generator
    from ..generate.layout import calibrated_layout
    from ..generate.layout_cache import cached_layout, is_layout_cache, load_layout_cache
    from ..generate.layout_files import load_keep_mask, load_layout, load_sketch
    from ..generate.model_sets import class_id, load_model_set
    from ..generate.sketch import sketch_layout
    from ..io.images import save_image
    from ..io.tokenfile import TokenSet
    from ..models.token_files import partition_from_token_set

    out = check_output_dir(args.out)
    if args.num < 1:
        raise GPSTokenError(f"--num must be >= 1, got {args.num}")
    model_set = load_model_set(args.models) if args.models else None
    options = generate_options(args, model_set)
    if (args.keep is None) != (args.keep_mask is None):
        raise GPSTokenError("--keep and --keep-mask go together")
    if args.keep and args.layout:
        raise GPSTokenError("--keep brings its own layout: drop --layout")
    if model_set is not None:
        args.model = args.model or str(model_set.file("tokenizer"))
        args.layout_model = args.layout_model or str(model_set.file("layout"))
        args.texture_model = args.texture_model or str(model_set.file("texture"))
    tokenizer = load_model(args)
    device = tokenizer.device
    texture = load_generator(args.texture_model or bundled_generator("texture"), args.texture_config, device)
    cfg = texture.config
    layouts, layout_model, keep, cache, sketch, fill_model = None, None, None, None, None, None
    if args.keep:
        ts = TokenSet.load(args.keep)
        if ts.tokens is None:
            raise GPSTokenError(f"{args.keep} holds only a layout: --keep needs tokens")
        if ts.tokens.shape[-1] != cfg.in_channels:
            raise GPSTokenError(f"{args.keep} has tokens of {ts.tokens.shape[-1]} channels; the texture "
                                f"generator makes {cfg.in_channels}")
        layout = partition_from_token_set(ts, ts.image_size, cfg.tile)
        layouts, keep = [layout], (ts.tokens, load_keep_mask(args.keep_mask, layout))
    elif args.layout:
        sketch, grid, _ = load_sketch(args.layout, cfg.tile)
        if grid != (1, 1):  # a layout of several tiles: each tile calibrated as it is
            sketch, layouts = None, [load_layout(args.layout, cfg.tile, cfg.min_size)]
        elif args.sketch_fill == "model" and not (args.layout_model and is_layout_cache(args.layout_model)):
            fill_model = load_generator(args.layout_model or bundled_generator("layout"), None, device)
    elif args.layout_model and is_layout_cache(args.layout_model):
        cache = load_layout_cache(args.layout_model, cfg.tokens)
    else:
        layout_model = load_generator(args.layout_model or bundled_generator("layout"), None, device)
    if args.label is not None:
        args.label = class_id(args.label, model_set)
    labels = [args.label] * args.num if args.label is not None else [i % cfg.num_classes for i in range(args.num)]
    if args.label is not None and not 0 <= args.label < cfg.num_classes:
        raise GPSTokenError(f"--class {args.label} is out of range: the texture generator knows classes "
                            f"0..{cfg.num_classes - 1}")
    times = []  # OUT is made by the first write, so a mistake found while sampling leaves no folder
    with progress(args.num, "img", args.quiet) as bar:
        for i, label in enumerate(labels):
            start = time.perf_counter()
            if cache is not None:  # the reference draws the cached layouts in order; we draw with the seed
                g = cached_layout(cache, label, np.random.default_rng(args.seed + i))
                layouts = [calibrated_layout(g, cfg.tokens, cfg.tile, cfg.min_size)]
            if sketch is not None:
                made = sketch_layout(sketch[0], cfg.tokens, cfg.tile, cfg.min_size, layout_model=fill_model,
                                     label=label, generator=torch.Generator().manual_seed(args.seed + i),
                                     method=options.layout_method, steps=options.layout_steps)
                layouts = [made.layout]
                if i == 0 and not args.quiet:
                    print(f"{args.layout}: {made.summary()}", file=sys.stderr)
            result = generate(texture, tokenizer, label, 1, layouts=layouts, layout_model=layout_model, keep=keep,
                              options=dataclasses.replace(options, seed=args.seed + i))[0]
            save_image(out / f"{i:06d}.png", result.image())
            result.token_set().save(out / f"{i:06d}.npz")
            times.append(time.perf_counter() - start)
            bar.update(1)
    print(json.dumps({"images": args.num, "out": str(out), "seconds_per_image": round(float(np.mean(times)), 3)}))
    return 0
