"""``gpstoken train layout`` and ``gpstoken train texture``: the generator kinds of the train command."""
from __future__ import annotations

import argparse
import json


def add_layout_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = kinds.add_parser("layout", help="train a layout generator (stage 1) on partitions of images",
                         description="Train a layout generator on the g_init of entropy partitions of random "
                                     "crops of the images. Ctrl-C/SIGTERM saves and exits; --resume continues.")
    p.add_argument("--data", help="image folder (sub-folders = classes) or list file")
    p.add_argument("--examples", type=int, default=2000, help="augmented crops to partition (default 2000)")
    p.add_argument("--tokens", type=int, help="tokens per tile (default: the preset's)")
    p.add_argument("--min-crop", type=float, default=0.5,
                   help="smallest random crop as a fraction of the shorter side (default 0.5)")
    _add_common(p, "layout-tiny")
    return p


def add_texture_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = kinds.add_parser("texture", help="train a texture generator (stage 2) on extracted tokens",
                         description="Train a texture generator on a token dataset written by gpstoken extract "
                                     "(layout condition noised with std --cond-noise). Ctrl-C/SIGTERM saves "
                                     "and exits; --resume continues.")
    p.add_argument("--data", help="token dataset folder (gpstoken extract --out)")
    p.add_argument("--cond-noise", type=float, help="std of the noise on the layout condition (default 0.5)")
    p.add_argument("--conditioning", choices=("reference", "paper"),
                   help="where the layout enters the model (default: the preset's)")
    _add_common(p, "texture-tiny")
    return p


def _add_common(p: argparse.ArgumentParser, default_preset: str) -> None:
    p.add_argument("--out", required=True, help="run folder (model.safetensors is the EMA model)")
    p.add_argument("--preset", default=default_preset,
                   help=f"model shape: layout-tiny, layout-s, texture-tiny, texture-xl (default {default_preset})")
    p.add_argument("--classes", type=int, help="number of classes (default: the preset's)")
    p.add_argument("--steps", type=int, help="total steps (default 2000; on --resume: the run's own)")
    p.add_argument("--batch", type=int, default=32, help="examples per step and process (default 32)")
    p.add_argument("--sample-every", type=int, default=500, help="write samples/step_*.png every N steps (default 500)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default 1e-4, as the paper)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", metavar="CKPT", help="start from this generator's weights (same shape): fine-tuning")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (a larger --steps extends it)")


def run_layout(args: argparse.Namespace) -> int:
    return _run(args, "layout", {"examples": args.examples, "min_crop": args.min_crop})


def run_texture(args: argparse.Namespace) -> int:
    return _run(args, "texture", {})


def _run(args: argparse.Namespace, kind: str, extra: dict) -> int:
    from ..errors import GPSTokenError
    from ..generate.config import preset
    from ..generate.train import GeneratorTrainer, GenTrainConfig
    from ..io.atomic import check_output_dir
    from .train_cmd import check_counts

    check_output_dir(args.out, "--out (the run folder)")
    check_counts(args, positive=("steps", "batch", "sample_every", "tokens", "classes", "examples"))
    config = None
    if not args.resume:
        changes = {k: v for k, v in (("tokens", getattr(args, "tokens", None)), ("num_classes", args.classes),
                                     ("conditioning", getattr(args, "conditioning", None)),
                                     ("cond_noise", getattr(args, "cond_noise", None))) if v is not None}
        model = preset(args.preset).replace(**changes)
        if model.kind != kind:
            raise GPSTokenError(f"--preset {args.preset} is a {model.kind} model, not a {kind} model")
        config = GenTrainConfig(model=model.to_dict(), data=args.data or "", steps=args.steps or 2000,
                                batch=args.batch, lr=args.lr, seed=args.seed, init=args.init or "",
                                sample_every=args.sample_every, **extra)
    trainer = GeneratorTrainer(args.out, config, resume=args.resume, steps=args.steps if args.resume else None,
                               on_event=lambda row: print(json.dumps(row), flush=True), device=args.device,
                               kind=kind)
    print(json.dumps(trainer.run()))
    return 0
