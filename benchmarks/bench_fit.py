"""Per-image fitting benchmark: speed at 256x256 and the warm-start re-fit after moving one Gaussian.

1. Iterations per second of ``gpstoken.fit`` on astronaut (256x256, adaptive layout with the
   automatic min_size: 8, 4 and 2) with 128, 1024 and 4096 tokens, with 1 and
   2 torch threads; against the bare render forward+backward of the fitted tokens (the fit's
   overhead over its renderer) and against the dense reference renderer's forward+backward alone
   (what one step would at least cost on the reference formula).
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


def steps_per_second(image: np.ndarray, count: int, steps: int) -> float:
    """Optimisation steps per second, timed between the progress reports of step 0 and the last step."""
    stamps = {}
    fit(image, count, steps=steps, progress=lambda step, *_: stamps.setdefault(step, time.perf_counter()),
        progress_every=steps)
    return steps / (stamps[steps] - stamps[0])


def render_ms(tokens: np.ndarray, backend: str, repeats: int) -> float:
    """Mean forward+backward time (ms) of one renderer backend on the fitted tokens."""
    t = torch.from_numpy(tokens)[None].requires_grad_(True)
    grad = torch.ones(1, 3, 256, 256)
    render(t, size=(256, 256), backend=backend).backward(grad)  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        t.grad = None
        render(t, size=(256, 256), backend=backend).backward(grad)
    return (time.perf_counter() - t0) / repeats * 1e3


def speed_table(image: np.ndarray, steps: int, dense_repeats: int) -> None:
    print("\n== fit speed, 256x256, adaptive layout (ratios from the same run) ==")
    print(f"{'tokens':>6} {'1 thr it/s':>10} {'2 thr it/s':>10} {'2thr/1thr':>9} {'ms/step':>8} "
          f"{'render f+b ms':>13} {'step/render':>11} {'dense f+b ms':>12} {'dense/step':>10}")
    fit(image, 16, steps=2)  # compile the kernels
    for count in COUNTS:
        torch.set_num_threads(1)
        one = steps_per_second(image, count, steps)
        torch.set_num_threads(2)
        two = steps_per_second(image, count, steps)
        torch.set_num_threads(1)
        tokens = fit(image, count, steps=steps).tokens
        ours = render_ms(tokens, "auto", 20)
        dense = render_ms(tokens, "dense", dense_repeats)
        step_ms = 1e3 / one
        print(f"{count:>6} {one:>10.1f} {two:>10.1f} {two / one:>9.2f} {step_ms:>8.1f} {ours:>13.1f} "
              f"{step_ms / ours:>11.2f} {dense:>12.0f} {dense / step_ms:>9.0f}x", flush=True)


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
    speed_table(image, steps=20 if args.quick else 60, dense_repeats=1 if args.quick else 2)
    names = ["astronaut"] if args.quick else ["astronaut", "coffee", "chelsea", "camera"]
    warm_start_table(names, (128, 1024), fit_steps=100 if args.quick else 200, budget=100)


if __name__ == "__main__":
    main()
