"""Training throughput (images/s) of the real loop: tiny preset on CPU at 1 and 2 threads, m128 on CUDA.

Each configuration runs ``gpstoken train tokenizer`` in a child process on the bundled training set for
a few steps; the rate is the median of the logged ``img_per_s`` rows after the first (warm-up) one.
Rounds are interleaved so that load from other processes hits all configurations alike; the table
reports the ratio to the 1-thread CPU rate measured in the same run.

Usage: python benchmarks/bench_train.py [--steps 30] [--rounds 2] [--cuda]
(--cuda adds m128 at batch 16 with bf16 autocast on the first GPU; skipped when CUDA is absent.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run_child(config: str, threads: int, steps: int, device: str, data: str, extra: list[str]) -> float:
    """Median img/s of one short training run in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "gpstoken.cli", "--threads", str(threads), "train", "tokenizer",
               "--config", config, "--data", data, "--out", str(out), "--steps", str(steps), "--device", device,
               *extra]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        rates = [r["img_per_s"] for r in rows if "img_per_s" in r][1:]
        return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    import torch

    from gpstoken.train.bundled_data import build_bundled_data, default_data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cuda", action="store_true", help="also time m128 on CUDA (batch 16, bf16)")
    args = parser.parse_args(argv)
    data_dir = default_data_dir()
    if not (data_dir / "train.txt").exists():
        build_bundled_data(data_dir)
    data = str(data_dir / "train.txt")
    configs = [("tiny, crop 128, batch 4", "tiny", 1, "cpu", []),
               ("tiny, crop 128, batch 4", "tiny", 2, "cpu", []),
               ("tiny, crop 256, batch 4", "tiny", 1, "cpu", ["--crop", "256"])]
    if args.cuda and torch.cuda.is_available():
        configs.append(("m128, crop 256, batch 16, bf16", "m128", 0, "cuda", ["--batch", "16"]))
    results: dict[int, list[float]] = {i: [] for i in range(len(configs))}
    for _ in range(args.rounds):
        for i, (_, cfg, threads, device, extra) in enumerate(configs):
            results[i].append(run_child(cfg, max(threads, 1), args.steps, device, data, extra))
    base = statistics.median(results[0])
    print(f"training throughput, {args.steps} steps x {args.rounds} rounds (median img/s)\n")
    print("| configuration | device | threads | img/s | vs tiny 1 thread |")
    print("|---|---|---:|---:|---:|")
    for i, (name, _, threads, device, _) in enumerate(configs):
        rate = statistics.median(results[i])
        print(f"| {name} | {device} | {threads or '-'} | {rate:.2f} | {rate / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
