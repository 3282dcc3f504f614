"""Partition benchmark: the engine vs a straightforward implementation of the reference loop.

Cases: astronaut (256x256) and a 1024x1024 mosaic of the four 256-px golden photos, each upscaled to
512 (bicubic), both at 128 tokens per tile. For each case, in the same run:
- first: a fresh ``gpstoken.partition`` (luma, every entropy the loop reaches, the loop);
- new bias: a Partitioner that has partitioned once re-partitions with a painted bias map;
- new count: the same Partitioner re-partitions at 96 and at 160 tokens per tile.
Each timing is the best of several repetitions (fresh Partitioner each time); the reference is timed
on the same input. Outputs are checked identical. Usage: python benchmarks/bench_partition.py [reps]
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


def painted_bias(h: int, w: int) -> np.ndarray:
    """Two soft brush blobs of 60 per pixel, as a user would paint density."""
    y, x = np.mgrid[0:h, 0:w]
    blobs = [(0.3 * h, 0.45 * w, 0.12 * min(h, w)), (0.7 * h, 0.7 * w, 0.08 * min(h, w))]
    b = sum(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r)) for cy, cx, r in blobs)
    return 60.0 * b


def best_of(reps: int, fn) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ours(image: np.ndarray, bias: np.ndarray, reps: int) -> dict[str, tuple[float, np.ndarray]]:
    times: dict[str, list[float]] = {"first": [], "new bias": [], "new count 96": [], "new count 160": []}
    outs = {}
    for _ in range(reps):
        t = time.perf_counter()
        outs["first"] = partition(image, TOKENS).regions
        times["first"].append(time.perf_counter() - t)
        p = Partitioner(image)
        p.partition(TOKENS)
        for key, (n, b) in {"new bias": (TOKENS, bias), "new count 96": (96, bias), "new count 160": (160, bias)}.items():
            t = time.perf_counter()
            outs[key] = p.partition(n, bias=b).regions
            times[key].append(time.perf_counter() - t)
    return {k: (min(v), outs[k]) for k, v in times.items()}


def main() -> None:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    partition(load_image(GOLDEN / "flat.png"), 4)  # numba cache load outside the timings
    cases = {"256x256": load_image(GOLDEN / "astronaut.png"), "1024x1024": mosaic_1024()}
    print(f"{'case':<10} {'step':<14} {'reference ms':>13} {'ours ms':>9} {'ratio':>7}  same")
    for name, image in cases.items():
        bias = painted_bias(*image.shape[:2])
        mine = ours(image, bias, reps)
        configs = {"first": (TOKENS, None), "new bias": (TOKENS, bias), "new count 96": (96, bias),
                   "new count 160": (160, bias)}
        for step, (n, b) in configs.items():
            ref_s, ref_out = best_of(max(1, reps // 2), lambda: reference_partition(image, n, bias=b))
            our_s, our_out = mine[step]
            same = np.array_equal(ref_out, our_out)
            print(f"{name:<10} {step:<14} {ref_s * 1e3:13.1f} {our_s * 1e3:9.2f} {ref_s / our_s:7.1f}  {same}")


if __name__ == "__main__":
    main()
