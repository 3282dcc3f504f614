"""Partition benchmark: the engine vs a straightforward implementation of the reference loop.

Cases: astronaut (256x256) and a 1024x1024 mosaic of the four 256-px golden photos, each upscaled to
512 (bicubic), both at 128 tokens per tile. For each case, in the same run:
- first: a fresh ``gpstoken.partition`` (luma, every entropy the loop reaches, the loop);
- new bias: a Partitioner that has partitioned once re-partitions with a painted bias map, then
  with a second brush stroke added (second stroke);
- new count: the same Partitioner then re-partitions at 96 and at 160 tokens per tile.
Each step is timed right before the reference on the same input (the machine is shared, so timings
are interleaved and each is the best of ``reps``; a fresh Partitioner per repetition). Outputs are
checked identical. Usage: python benchmarks/bench_partition.py [reps]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from partition_reference import reference_partition  # noqa: E402

from gpstoken.io.images import load_image  # noqa: E402
from gpstoken.partition import Partitioner, partition  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
TOKENS = 128


def mosaic_1024() -> np.ndarray:
    tiles = [cv2.resize(load_image(GOLDEN / f"{n}.png"), (512, 512), interpolation=cv2.INTER_CUBIC)
             for n in ("astronaut", "coffee", "chelsea", "camera")]
    return np.concatenate([np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)], axis=0)


def painted_bias(h: int, w: int, strokes: int = 1) -> np.ndarray:
    """Soft brush blobs of 60 per pixel, as a user paints density; each stroke adds one blob."""
    y, x = np.mgrid[0:h, 0:w]
    blobs = [(0.3 * h, 0.45 * w, 0.12 * min(h, w)), (0.7 * h, 0.7 * w, 0.08 * min(h, w))][:strokes]
    return 60.0 * sum(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r)) for cy, cx, r in blobs)


def timed(fn) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def measure(image: np.ndarray, reps: int) -> dict[str, tuple[float, float, bool]]:
    """Best-of-``reps`` (reference s, ours s, identical output) per step; the two are interleaved."""
    h, w = image.shape[:2]
    one, two = painted_bias(h, w, 1), painted_bias(h, w, 2)
    steps = {"new bias": (TOKENS, one), "second stroke": (TOKENS, two), "new count 96": (96, two),
             "new count 160": (160, two)}
    best: dict[str, list[float]] = {k: [float("inf"), float("inf")] for k in ["first", *steps]}
    same = dict.fromkeys(best, True)

    def record(step: str, ours_fn, n: int, bias: np.ndarray | None) -> None:
        our_s, got = timed(ours_fn)
        ref_s, want = timed(lambda: reference_partition(image, n, bias=bias))
        best[step] = [min(best[step][0], ref_s), min(best[step][1], our_s)]
        same[step] &= np.array_equal(got, want)

    for _ in range(reps):
        record("first", lambda: partition(image, TOKENS).regions, TOKENS, None)
        p = Partitioner(image)
        p.partition(TOKENS)
        for step, (n, bias) in steps.items():
            record(step, lambda: p.partition(n, bias=bias).regions, n, bias)
    return {k: (v[0], v[1], same[k]) for k, v in best.items()}


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    partition(load_image(GOLDEN / "flat.png"), 4)  # numba cache load outside the timings
    cases = {"256x256": load_image(GOLDEN / "astronaut.png"), "1024x1024": mosaic_1024()}
    print(f"{'case':<10} {'step':<14} {'reference ms':>13} {'ours ms':>9} {'ratio':>7}  same")
    for name, image in cases.items():
        for step, (ref_s, our_s, same) in measure(image, reps).items():
            print(f"{name:<10} {step:<14} {ref_s * 1e3:13.1f} {our_s * 1e3:9.2f} {ref_s / our_s:7.1f}  {same}")


if __name__ == "__main__":
    main()
