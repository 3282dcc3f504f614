"""Per-image fitting benchmark: speed at 256x256 and the warm-start re-fit after moving one Gaussian.

1. Iterations per second of ``gpstoken.fit`` on astronaut (256x256, adaptive layout with the
   automatic min_size: 8, 4 and 2) with 128, 1024 and 4096 tokens, with 1 and
   2 torch threads, against the same fit on the dense reference renderer (a few steps) and against
   the bare render forward+backward of the same tokens (the fit's overhead over its renderer).
2. Warm-start re-fit: fit 200 steps, move the most central Gaussian by 2 of its sigmas, and count
   the steps until the PSNR is back at the value before the move: warm start with the previous
   Adam moments, warm start without them (token file), and a cold fit from g_init (reference).
Timings are noisy on shared machines: compare the ratios printed from the same run.
Usage: python benchmarks/bench_fit.py [--quick]
"""
from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from gpstoken.fit import fit
from gpstoken.io.images import load_image
from gpstoken.render import render

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
COUNTS = (128, 1024, 4096)


def steps_per_second(image: np.ndarray, count: int, steps: int, backend: str = "auto") -> float:
    """Optimisation steps per second (the layout and colour initialisation are timed out)."""
    t0 = time.perf_counter()
    fit(image, count, steps=0, backend=backend)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit(image, count, steps=steps, backend=backend)
    return steps / max(time.perf_counter() - t0 - setup, 1e-9)


def render_ms(tokens: np.ndarray, repeats: int = 10) -> float:
    """Best forward+backward time (ms) of the renderer alone on the fitted tokens."""
    t = torch.from_numpy(tokens)[None].requires_grad_(True)
    grad = torch.ones(1, 3, 256, 256)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        render(t, size=(256, 256)).backward(grad)
        best = min(best, time.perf_counter() - t0)
        t.grad = None
    return best * 1e3


def speed_table(image: np.ndarray, steps: int, dense_steps: int) -> None:
    print("\n== fit speed, 256x256, adaptive layout (steps/s; ratios from the same run) ==")
    print(f"{'tokens':>6} {'1 thr it/s':>10} {'2 thr it/s':>10} {'2thr/1thr':>9} {'ms/step':>8} "
          f"{'render f+b ms':>13} {'step/render':>11} {'dense it/s':>10} {'ours/dense':>10}")
    fit(image, 16, steps=2)  # compile the kernels
    for count in COUNTS:
        torch.set_num_threads(1)
        one = steps_per_second(image, count, steps)
        torch.set_num_threads(2)
        two = steps_per_second(image, count, steps)
        torch.set_num_threads(1)
        tokens = fit(image, count, steps=5).tokens
        rms = render_ms(tokens)
        dense = steps_per_second(image, count, dense_steps, backend="dense")
        print(f"{count:>6} {one:>10.1f} {two:>10.1f} {two / one:>9.2f} {1e3 / one:>8.1f} {rms:>13.1f} "
              f"{1e3 / one / rms:>11.2f} {dense:>10.2f} {one / dense:>10.0f}x", flush=True)


def steps_to_reach(history: np.ndarray, target: float) -> int | None:
    hit = np.nonzero(history >= target)[0]
    return int(hit[0]) if hit.size else None


def warm_start_table(names: list[str], counts: tuple[int, ...], fit_steps: int, budget: int) -> None:
    print(f"\n== warm-start re-fit after moving one Gaussian by 2 sigma (256x256, {fit_steps} steps first; "
          f"steps to regain the PSNR before the move, budget {budget}) ==")
    print(f"{'image':>10} {'tokens':>6} {'before':>7} {'moved':>7} {'warm+Adam':>9} {'warm file':>9} "
          f"{'cold':>6} {'cold/warm':>9}")
    torch.set_num_threads(1)
    for name in names:
        image = load_image(GOLDEN / f"{name}.png")
        for count in counts:
            first = fit(image, count, steps=fit_steps)
            tokens = first.tokens.copy()
            k = int(np.argmin(np.abs(tokens[:, 3]) + np.abs(tokens[:, 4])))
            tokens[k, 3] = np.clip(tokens[k, 3] + 2 * tokens[k, 0], -0.99, 0.99)
            moved = dataclasses.replace(first, tokens=tokens)
            warm = fit(image, warm_start=moved, steps=budget)
            file = fit(image, warm_start=dataclasses.replace(moved, optimizer_state={}), steps=budget)
            cold = fit(image, count, steps=fit_steps + budget)
            w, f, c = (steps_to_reach(r.psnr_history, first.psnr) for r in (warm, file, cold))
            show = [("-" if v is None else str(v)) for v in (w, f, c)]
            ratio = f"{c / max(w, 1):.0f}x" if w is not None and c is not None else "-"
            print(f"{name:>10} {count:>6} {first.psnr:>7.2f} {warm.psnr_history[0]:>7.2f} {show[0]:>9} "
                  f"{show[1]:>9} {show[2]:>6} {ratio:>9}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and images")
    args = parser.parse_args()
    image = load_image(GOLDEN / "astronaut.png")
    speed_table(image, steps=20 if args.quick else 60, dense_steps=1 if args.quick else 2)
    names = ["astronaut"] if args.quick else ["astronaut", "coffee", "chelsea", "camera"]
    warm_start_table(names, (128, 1024), fit_steps=100 if args.quick else 200, budget=100)


if __name__ == "__main__":
    main()
