"""Synthetic smooth images: flat colours, linear and radial gradients, low-frequency colour fields.

Photographs rarely give a tokenizer a flat tile, so a model trained only on them may leave artefacts
that texture hides but a flat sky shows (issue 13's tile-corner blobs). Mixed into the photo set,
these images make any such artefact a plain error. Generated from a seed: nothing to licence.
Command line: ``python -m gpstoken.train.smooth_data OUT_DIR [--count 600] [--size 256]``.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

KINDS = ("flat", "linear", "radial", "field")


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0, 255, (n, 3))


def smooth_image(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """One ``size x size`` uint8 RGB image of ``kind`` (one of :data:`KINDS`)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / max(size - 1, 1)
    if kind == "flat":
        image = np.broadcast_to(_colours(rng, 1)[0], (size, size, 3))
    elif kind == "linear":
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
        a, b = _colours(rng, 2)
        image = a + t[..., None] * (b - a)
    elif kind == "radial":
        cy, cx = rng.uniform(-0.2, 1.2, 2)
        t = np.clip(np.hypot(yy - cy, xx - cx) / rng.uniform(0.5, 1.5), 0, 1)
        a, b = _colours(rng, 2)
        image = a + t[..., None] * (b - a)
    elif kind == "field":
        # a bilinear upsampling of a 3x3 colour lattice: smooth everywhere, no edges
        lattice = _colours(rng, 9).reshape(3, 3, 3)
        gy, gx = yy * 2, xx * 2
        y0, x0 = np.minimum(gy.astype(int), 1), np.minimum(gx.astype(int), 1)
        fy, fx = (gy - y0)[..., None], (gx - x0)[..., None]
        image = ((1 - fy) * (1 - fx) * lattice[y0, x0] + (1 - fy) * fx * lattice[y0, x0 + 1]
                 + fy * (1 - fx) * lattice[y0 + 1, x0] + fy * fx * lattice[y0 + 1, x0 + 1])
    else:
        raise ValueError(f"unknown smooth image kind {kind!r}; choose one of {', '.join(KINDS)}")
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def build_smooth_data(out_dir: str | os.PathLike, count: int = 600, size: int = 256, seed: int = 0) -> list[str]:
    """Write ``count`` smooth images (the kinds in turn) and ``train.txt`` listing them; return the paths."""
    from ..io.images import save_image

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        path = out / "images" / f"{kind}_{i:04d}.png"
        save_image(path, smooth_image(rng, size, kind))
        paths.append(str(path))
    (out / "train.txt").write_text("\n".join(paths) + "\n")
    return paths


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="output folder (images/ and train.txt)")
    p.add_argument("--count", type=int, default=600)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    paths = build_smooth_data(args.out, args.count, args.size, args.seed)
    print(f"{len(paths)} smooth images in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
