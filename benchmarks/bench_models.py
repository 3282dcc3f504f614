"""Tokenizer benchmark: encode and decode latency and peak memory at 256x256, ours vs reference figures.

CPU (batch 1, the image-level pipeline ``encode_image`` / ``decode_tokens``): every case (architecture x
threads x precision x operation) runs in its own subprocess, so one case's allocations cannot hide
another's. Latency: median of ``--repeats`` runs after one warm-up run. Memory: the process's peak
resident set during the warm-up run above its resident set just before it; the kernel's peak counter
(VmHWM) is reset first through /proc/self/clear_refs, so the setup (random weights, partition) cannot
mask it. Weights, caches and the input are resident before the run, so the figure is what the
operation itself adds (activations, workspaces, allocator slack).

Architectures: ``m128`` (the official M128 shape) and ``tiny`` (the bundled CPU model's shape), both
with random weights (no official weights can be downloaded here). Inputs: the astronaut image, its
entropy partition at the model's token count; decode takes those g_init with N(0,1) features (the
decoder's cost does not depend on the values; the splat's depends on the geometry, kept realistic).

References (DESIGN.md, this machine class, 1 thread): the official M128 implementation decodes in ~9 s
and encodes in ~1.6 s; the tiny model's targets are 100 ms decode and 250 ms encode. The ratio column
is reference / ours (above 1: faster than the reference or within the target). On a shared machine the
wall time includes waiting for a core: the CPU column (median user+system time of this process per
run, all threads) is what a 1-thread run would take on an idle core, and ref/CPU the load-free ratio
(for 2 threads the CPU time adds both threads, so there it is the work, not a latency).

CUDA (when available): batch-8 reconstruction (encode + decode of 8 tiles, the tensor API, partition
excluded) in bf16 autocast and fp32: mean latency over 20 runs, throughput and peak allocated memory,
vs the paper's A100 figures for GPSToken-M128 (Table 5: 180 ms, 44.56 samples/s, 2567 MB).

Usage: python benchmarks/bench_models.py [--repeats 3] [--archs m128 tiny] [--threads 1 2]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

IMAGE = Path(__file__).resolve().parents[1] / "assets" / "images" / "astronaut.png"
CPU_REFERENCE_MS = {("m128", "decode"): 9000.0, ("m128", "encode"): 1600.0,
                    ("tiny", "decode"): 100.0, ("tiny", "encode"): 250.0}
REFERENCE_LABEL = {"m128": "official M128", "tiny": "tiny target"}
PAPER_A100 = {"latency_ms": 180.0, "samples_per_s": 44.56, "memory_mb": 2567.0}
GPU_BATCH, GPU_RUNS = 8, 20


# --- one case, in a child process --------------------------------------------------------------------

def status_kb(field: str) -> int:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in kB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def build_model(arch: str, device: str = "cpu"):
    import torch

    from gpstoken.models import GPSTokenizer, preset

    torch.manual_seed(0)
    return GPSTokenizer(preset(arch)).eval().to(device)


def partition_like_inputs(model, image: np.ndarray) -> tuple:
    """The image's partition at the model's token count and tokens with its g_init and N(0,1) features."""
    from gpstoken.models.pipeline import partition_image

    layout = partition_image(model, image)
    rng = np.random.default_rng(0)
    g = layout.g_init.reshape(-1, layout.tokens_per_tile, 5)
    tokens = np.concatenate([g, rng.standard_normal(g.shape[:2] + (model.config.gps_c,))], -1).astype(np.float32)
    return layout, tokens


def run_case(case: dict) -> dict:
    """Time and measure one CPU case; returns its figures."""
    import torch

    from gpstoken.io.images import load_image
    from gpstoken.models.pipeline import decode_tokens, encode_image

    torch.set_num_threads(case["threads"])
    model = build_model(case["arch"])
    image = load_image(IMAGE)
    layout, tokens = partition_like_inputs(model, image)
    if case["op"] == "encode":
        def op():
            encode_image(model, image, layout, precision=case["precision"])
    else:
        def op():
            decode_tokens(model, tokens, layout.tile_grid, layout.image_size, precision=case["precision"])
    exact = reset_peak_rss()
    rss_before = status_kb("VmRSS")
    t0 = time.perf_counter()
    op()
    first_ms = 1e3 * (time.perf_counter() - t0)
    peak_kb = status_kb("VmHWM")
    times, cpu_times = [], []
    for _ in range(case["repeats"]):
        t0, c0 = time.perf_counter(), cpu_seconds()
        op()
        times.append(1e3 * (time.perf_counter() - t0))
        cpu_times.append(1e3 * (cpu_seconds() - c0))
    return {"median_ms": statistics.median(times), "min_ms": min(times), "cpu_ms": statistics.median(cpu_times),
            "first_ms": first_ms, "extra_mb": (peak_kb - rss_before) / 1024, "rss_mb": rss_before / 1024,
            "exact_peak": exact}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_main(spec: str) -> None:
    print(json.dumps(run_case(json.loads(spec))))


def spawn(case: dict) -> dict:
    """Run one case in a fresh interpreter."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- GPU: batch-8 reconstruction ------------------------------------------------------------------------

def gpu_batch(arch: str, precision: str, device: str = "cuda", runs: int = GPU_RUNS) -> dict:
    """Batch-8 encode + decode on ``device``: mean latency, throughput and peak allocated memory."""
    import torch

    from gpstoken.io.images import load_image
    from gpstoken.models.pipeline import image_tiles, inference_context

    model = build_model(arch, device)
    image = load_image(IMAGE)
    layout, _ = partition_like_inputs(model, image)
    tiles = image_tiles(image, layout.tile_grid, model.config.tile_size).repeat(GPU_BATCH, 1, 1, 1).to(device)
    g_init = torch.from_numpy(layout.g_init.reshape(1, -1, 5)).repeat(GPU_BATCH, 1, 1).to(device)
    regions = torch.from_numpy(layout.regions_normalized()).repeat(GPU_BATCH, 1, 1).to(device)
    cuda = torch.device(device).type == "cuda"

    def step() -> None:
        with inference_context(torch.device(device), precision):
            model.decode(model.encode(tiles, g_init, regions), (1, 1), "merged")
        if cuda:
            torch.cuda.synchronize()

    step()  # warm-up (kernel selection, allocator)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(runs):
        step()
    latency = (time.perf_counter() - t0) / runs
    memory = torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")
    return {"latency_ms": 1e3 * latency, "samples_per_s": GPU_BATCH / latency, "memory_mb": memory}


# --- tables ----------------------------------------------------------------------------------------------

def cpu_table(archs: list[str], threads: list[int], repeats: dict[str, int]) -> None:
    runs = ", ".join(f"{a} {repeats[a]}" for a in archs)
    print(f"CPU, batch 1, 256x256: median of timed runs ({runs}) after a warm-up run (1st ms); +peak MB = peak RSS "
          "of the warm-up run above the RSS before it, one subprocess per case (* = peak counter not resettable)")
    print(f"{'arch':<5} {'op':<7} {'thr':>3} {'prec':<5} {'median ms':>10} {'min ms':>9} {'CPU ms':>8} {'1st ms':>9} "
          f"{'+peak MB':>9} {'RSS MB':>7} {'reference':>18} {'ref/ours':>8} {'ref/CPU':>7}")
    for arch in archs:
        for op in ("encode", "decode"):
            for n in threads:
                for prec in ("fp32", "bf16"):
                    r = spawn({"arch": arch, "op": op, "threads": n, "precision": prec, "repeats": repeats[arch]})
                    ref = CPU_REFERENCE_MS[(arch, op)]
                    mark = "" if r["exact_peak"] else "*"
                    print(f"{arch:<5} {op:<7} {n:>3} {prec:<5} {r['median_ms']:>10.1f} {r['min_ms']:>9.1f} "
                          f"{r['cpu_ms']:>8.1f} {r['first_ms']:>9.1f} {r['extra_mb']:>8.0f}{mark:1} {r['rss_mb']:>7.0f} "
                          f"{REFERENCE_LABEL[arch] + f' {ref:.0f}':>18} {ref / r['median_ms']:>8.2f} "
                          f"{ref / r['cpu_ms']:>7.2f}", flush=True)


def gpu_table(archs: list[str]) -> None:
    import torch

    print(f"\nCUDA ({torch.cuda.get_device_name()}), batch {GPU_BATCH} reconstruction (encode + decode), "
          f"mean of {GPU_RUNS} runs; paper (A100, M128): {PAPER_A100['latency_ms']:.0f} ms, "
          f"{PAPER_A100['samples_per_s']} samples/s, {PAPER_A100['memory_mb']:.0f} MB")
    print(f"{'arch':<5} {'prec':<5} {'latency ms':>10} {'samples/s':>10} {'peak MB':>8} "
          f"{'paper/ours lat':>14} {'ours/paper thpt':>15} {'paper/ours mem':>14}")
    for arch in archs:
        for prec in ("bf16", "fp32"):
            r = gpu_batch(arch, prec)
            print(f"{arch:<5} {prec:<5} {r['latency_ms']:>10.1f} {r['samples_per_s']:>10.1f} {r['memory_mb']:>8.0f} "
                  f"{PAPER_A100['latency_ms'] / r['latency_ms']:>14.2f} "
                  f"{r['samples_per_s'] / PAPER_A100['samples_per_s']:>15.2f} "
                  f"{PAPER_A100['memory_mb'] / r['memory_mb']:>14.2f}", flush=True)


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--archs", nargs="+", default=["m128", "tiny"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case for m128 (tiny: 3x as many)")
    parser.add_argument("--gpu-only", action="store_true", help="only the CUDA batch table")
    parser.add_argument("--batch-on-cpu", action="store_true",
                        help="run the batch-8 path on the CPU (checks that path on machines without a GPU)")
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    import torch

    print(f"machine: {machine()}; torch {torch.__version__}")
    if not args.gpu_only:
        cpu_table(args.archs, args.threads, {"m128": args.repeats, "tiny": 3 * args.repeats})
    if torch.cuda.is_available():
        gpu_table(args.archs)
    elif args.batch_on_cpu:
        torch.set_num_threads(args.threads[0])
        for arch in args.archs:
            r = gpu_batch(arch, "fp32", device="cpu", runs=1)
            print(f"batch-{GPU_BATCH} path on the CPU, {arch}: {r['latency_ms']:.0f} ms, {r['samples_per_s']:.2f} samples/s")
    else:
        print("\nno CUDA device: the batch-8 GPU table is skipped")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
