"""``gpstoken train KIND``: train a model. Kinds plug in through TRAINERS (module -> add_parser/run)."""
from __future__ import annotations

import argparse
import importlib
import json

from ..errors import GPSTokenError
from .train_generators import add_layout_parser, add_texture_parser, run_layout, run_texture  # noqa: F401

# Kind -> (this module's attribute prefix). New kinds (layout, texture) add an entry and two functions.
TRAINERS = {
    "tokenizer": "tokenizer",
    "layout": "layout",
    "texture": "texture",
}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train a model: the tokenizer, or the layout or texture generator",
                              description="Train a model: KIND is tokenizer, layout (stage-1 generator) or "
                                          "texture (stage-2 generator); see gpstoken train KIND --help.")
    kinds = p.add_subparsers(dest="kind", required=True, metavar="KIND")
    module = importlib.import_module(__name__)
    for prefix in TRAINERS.values():
        sub = getattr(module, f"add_{prefix}_parser")(kinds)
        sub.set_defaults(_train=getattr(module, f"run_{prefix}"))
    return p


def run(args: argparse.Namespace) -> int:
    return int(args._train(args) or 0)


def add_tokenizer_parser(kinds: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = kinds.add_parser(
        "tokenizer", help="train a GPSToken tokenizer",
        description="Train a GPSToken tokenizer. Ctrl-C (SIGINT) or SIGTERM saves and exits; --resume continues.",
    )
    p.add_argument("--config", help="training preset (tiny, micro, s64, m128, l256), YAML or config.json")
    p.add_argument("--data", help="image folder or list file (one path per line)")
    p.add_argument("--heldout", help="held-out images for PSNR/SSIM and samples: a folder or list, or a count N "
                                     "(the last N images of --data; 0: none) (default: the last fifth of --data, "
                                     "at least 1 and at most the config's eval_images)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--steps", type=int, help="total steps (overrides the config)")
    p.add_argument("--batch", type=int, help="images per step and process")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--crop", type=int, help="training crop side (default: the config's)")
    p.add_argument("--init", choices=("adaptive", "grid"), help="initial layout: entropy partition or uniform grid")
    p.add_argument("--weights", metavar="MODEL", help="a new run starts from this model's weights (fine-tuning; "
                                                      "same architecture)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out at its last checkpoint")
    p.add_argument("--extend", type=int, default=0, help="add N steps to the run's total (implies --resume "
                                                         "when --out holds a run)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when present)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (partition runs there)")
    return p


def run_tokenizer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..io.atomic import check_output_dir
    from ..train import RunSpec, load_train_config, train_tokenizer
    from ..train.trainer import CONFIG_FILE

    check_output_dir(args.out, "--out (the run folder)")
    check_counts(args, positive=("steps", "batch", "crop"), non_negative=("extend", "workers"))
    resume = args.resume or (args.extend > 0 and (Path(args.out) / CONFIG_FILE).exists())
    overrides = {k: getattr(args, k) for k in ("batch", "lr", "crop", "init") if getattr(args, k) is not None}
    cfg = None
    if args.config:
        cfg = load_train_config(args.config)
        cfg = cfg.replace(**overrides) if overrides else cfg
    elif overrides and resume:
        from ..train.trainer import saved_config

        cfg = saved_config(Path(args.out)).replace(**overrides)
    spec = RunSpec(out=Path(args.out), config=cfg, data=args.data, heldout=args.heldout, resume=resume,
                   steps=args.steps, extend=args.extend, device=args.device, workers=args.workers,
                   weights=args.weights)
    summary = train_tokenizer(spec, on_event=_print_event)
    print(json.dumps(summary))
    return 0


def check_counts(args: argparse.Namespace, positive: tuple[str, ...], non_negative: tuple[str, ...] = ()) -> None:
    """One line for a count option that is given but out of range (``--steps 0`` would mean the default)."""
    for name, low in [(n, 1) for n in positive] + [(n, 0) for n in non_negative]:
        value = getattr(args, name, None)
        if value is not None and value < low:
            raise GPSTokenError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")


def _print_event(row: dict) -> None:
    print(json.dumps(row), flush=True)
