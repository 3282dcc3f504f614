"""PSNR/SSIM/HaarPSI of trained tokenizers on held-out tiles at 64/128/256 tokens (the model card table).

Usage: python benchmarks/eval_models.py [--models PATH:LAYOUT ...] [--heldout LIST] [--tokens 64 128 256]
LAYOUT is the initial layout the model is evaluated with (adaptive = entropy partition, grid = uniform).
The held-out list defaults to the bundled set (built on first use by gpstoken.train.bundled_data); the
photo set's is ``--heldout DIR/heldout.txt`` after ``python -m gpstoken.train.photo_data DIR``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = [f"{ROOT / 'assets/models/default.safetensors'}:adaptive",
                  f"{ROOT / 'assets/models/default.safetensors'}:grid",
                  f"{ROOT / 'assets/models/tiny_grid.safetensors'}:grid"]


def main(argv: list[str] | None = None) -> int:
    from gpstoken.models import load_tokenizer
    from gpstoken.train.bundled_data import build_bundled_data, default_data_dir
    from gpstoken.train.data import list_images
    from gpstoken.train.evaluate import evaluate_tiles

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="PATH:LAYOUT entries")
    parser.add_argument("--heldout", help="held-out image list or folder (default: the bundled held-out list)")
    parser.add_argument("--tokens", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.heldout is None:
        data = default_data_dir()
        if not (data / "heldout.txt").exists():
            build_bundled_data(data)
        args.heldout = str(data / "heldout.txt")
    paths = list_images(args.heldout).paths
    rows = []
    print(f"{len(paths)} held-out tiles (256x256 centre crops) from {args.heldout}\n")
    print("| model | layout | tokens | PSNR (dB) | SSIM | HaarPSI |")
    print("|---|---|---:|---:|---:|---:|")
    for entry in args.models:
        path, _, layout = entry.rpartition(":")
        if not Path(path).is_file():
            print(f"| {Path(path).name} | {layout} | - | missing | - |")
            continue
        model = load_tokenizer(path)
        for n in args.tokens:
            t0 = time.perf_counter()
            score = evaluate_tiles(model, paths, n, layout)
            rows.append({"model": Path(path).name, "layout": layout, "tokens": n, **score,
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(f"| {Path(path).name} | {layout} | {n} | {score['psnr']:.2f} | {score['ssim']:.4f} "
                  f"| {score['haarpsi']:.4f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
