"""``gpstoken reconstruct``: encode and decode an image (or a folder of images) and measure the quality."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import GPSTokenError
from ..io.atomic import atomic_path, check_output_dir
from .model_options import (IMAGE_SUFFIXES, SIZE_POLICY, add_model_options, check_json_output, check_output,
                            json_number, load_model, model_path, precision, progress, write_recon)
from .refine_options import add_refine_option, check_refine, refine_facts, refine_tokens

if TYPE_CHECKING:
    import numpy as np

    from ..models import GPSTokenizer

STAGES = ("partition", "encode", "decode")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..models.config import DECODE_MODES

    p = sub.add_parser(
        "reconstruct", help="encode and decode images with a tokenizer; PSNR, SSIM, MS-SSIM, HaarPSI",
        description="Partition, encode and decode an image, or every image of a folder, and measure the "
                    f"reconstruction against the original. Sizes: {SIZE_POLICY}; metrics compare the original "
                    "image with the 8-bit reconstruction.",
    )
    p.add_argument("input", metavar="IMAGE|FOLDER", help="an image, or a folder of images (not recursive)")
    add_model_options(p, model_required=False)
    p.add_argument("--out", required=True, metavar="RECON.png|DIR",
                   help="reconstruction (.npy: raw float32 [3,H,W]); for a folder, the output folder (<name>.png each)")
    p.add_argument("--json", metavar="METRICS.json", help="metrics (per image and mean for a folder); - for stdout")
    p.add_argument("--mask", metavar="MASK.png",
                   help="grey image of the image's size; pixels > 127 are the region for the *_mask metrics")
    p.add_argument("--tokens", type=int, help="tokens per tile (default: the model's)")
    p.add_argument("--mode", choices=DECODE_MODES, default=None, help="decode mode (default: the model's rule)")
    add_refine_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from ..io.images import load_image

    if args.tokens is not None and args.tokens < 1:
        raise GPSTokenError(f"--tokens must be >= 1, got {args.tokens}")
    check_refine(args)
    jobs = plan_outputs(Path(args.input), Path(args.out))
    check_json_output(args.json)
    mask = None if args.mask is None else load_mask(args.mask)
    model = load_model(args)
    started = time.perf_counter()
    folder = Path(args.input).is_dir()
    per_image: dict[str, dict] = {}
    metrics: list[dict[str, float | None]] = []
    with progress(len(jobs) if folder else len(STAGES), "image" if folder else "stage", args.quiet) as bar:
        for source, target in jobs:
            image = load_image(source)
            if mask is not None and mask.shape != image.shape[:2]:
                raise GPSTokenError(f"{Path(args.mask).name} is {mask.shape[1]}x{mask.shape[0]} but "
                                    f"{source.name} is {image.shape[1]}x{image.shape[0]}")

            def stage(i: int, name: str, source: Path = source) -> None:
                if folder:
                    bar.set_postfix_str(f"{source.name}: {name}")
                else:
                    bar.update(i - bar.n)
                    bar.set_description(name)

            recon, facts = reconstruct_image(model, image, args, stage, mask)
            write_recon(target, recon)
            metrics.append(report(image, recon, mask))
            per_image[source.name] = metrics[-1] | facts
            bar.update(1 if folder else len(STAGES) - bar.n)
    run_facts = {
        "model": str(model_path(args)), "config": model.config.name, "device": str(model.device),
        "precision": precision(args), "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        if folder:
            doc = {"images": per_image, "mean": mean_metrics(metrics), "reconstruct": run_facts}
            if args.refine:
                doc["mean_before_refine"] = mean_metrics([m["refine"]["before"] for m in per_image.values()])
        else:
            doc = metrics[0] | {"reconstruct": run_facts | {"image": Path(args.input).name} | facts}
        write_json(args.json, doc)
    return 0


def plan_outputs(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: one image, or every image of a folder to ``out/<stem>.png``."""
    from ..io.images import open_image

    if not source.is_dir():
        if not source.is_file():
            raise GPSTokenError(f"no such image file or folder: {source}")
        return [(source, check_output(str(out), allow_npy=True))]
    if out.suffix.lower() in IMAGE_SUFFIXES + (".npy",):
        raise GPSTokenError(f"the input is a folder, so --out must be a folder, not {out.name}")
    check_output_dir(out)
    if out.exists() and out.resolve() == source.resolve():
        raise GPSTokenError("--out must differ from the input folder (the inputs would be overwritten)")
    images = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise GPSTokenError(f"{source} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    stems: dict[str, Path] = {}
    for p in images:
        if p.stem in stems:
            raise GPSTokenError(f"{stems[p.stem].name} and {p.name} would both be written to {p.stem}.png")
        stems[p.stem] = p
        with open_image(p):  # every header is read (and checked against the pixel limit) before any work
            pass
    return [(p, out / f"{p.stem}.png") for p in images]


def load_mask(path: str) -> np.ndarray:
    """A region mask from a grey image: True where the pixel is brighter than 127."""
    from ..io.images import load_image

    mask = load_image(path).mean(axis=2) > 127
    if not mask.any():
        raise GPSTokenError(f"{Path(path).name} selects no pixel (nothing is brighter than 127)")
    return mask


def reconstruct_image(model: GPSTokenizer, image: np.ndarray, args: argparse.Namespace,
                      stage: Callable[[int, str], object], mask: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Partition, encode, (refine,) decode one image; ``stage(index, name)`` announces each step.
    Returns the raw reconstruction ``[3,H,W]`` (cropped to the image) and facts for the report; with
    ``--refine`` the facts hold the metrics before and after refinement."""
    from ..models.pipeline import decode_tokens, encode_image, partition_image

    prec = precision(args)
    stage(0, STAGES[0])
    layout = partition_image(model, image, args.tokens)
    stage(1, f"{STAGES[1]} {layout.tiling.num_tiles} tile(s)")
    layout, tokens = encode_image(model, image, layout, precision=prec)
    mode = args.mode or model.config.default_decode_mode
    stage(2, STAGES[2])
    recon = decode_tokens(model, tokens, layout.tile_grid, layout.image_size, mode, prec)
    facts = {"width": image.shape[1], "height": image.shape[0], "tokens_per_tile": layout.tokens_per_tile,
             "tokens": int(tokens.shape[0] * tokens.shape[1]), "tile_grid": list(layout.tile_grid), "mode": mode}
    if args.refine:
        stage(2, "refine")
        tokens, result = refine_tokens(model, image, tokens, layout.tile_grid, args,
                                       lambda s: stage(2, f"refine step {s.step}: {s.psnr:.2f} dB"))
        before, recon = recon, decode_tokens(model, tokens, layout.tile_grid, layout.image_size, "merged", prec)
        facts["mode"] = "merged"
        facts["refine"] = refine_facts(result) | {"before": report(image, before, mask),
                                                  "after": report(image, recon, mask)}
    return recon, facts


def report(image: np.ndarray, recon: np.ndarray, mask: np.ndarray | None) -> dict[str, float | None]:
    """Every metric of the 8-bit reconstruction (``*_mask`` too with a mask); inf PSNR becomes null."""
    from ..metrics import evaluate
    from ..models.pipeline import to_uint8

    return {key: json_number(v) for key, v in evaluate(image, to_uint8(recon), mask).items()}


def mean_metrics(metrics: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of each metric over the images (null when any value is null, i.e. an exact PSNR)."""
    import numpy as np

    return {key: None if any(m[key] is None for m in metrics) else float(np.mean([m[key] for m in metrics]))
            for key in metrics[0]}


def write_json(target: str, doc: dict) -> None:
    """The report as indented JSON, to a file atomically or to stdout for ``-``."""
    text = json.dumps(doc, indent=1) + "\n"
    if target == "-":
        sys.stdout.write(text)
        return
    with atomic_path(target) as tmp:
        tmp.write_text(text)
