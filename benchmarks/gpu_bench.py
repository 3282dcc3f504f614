"""The sections of benchmarks/gpu_check.sh: each measures one part of the engine on a device and writes a
Markdown table to OUT/<section>.md, reusing the CPU benchmarks' code (bench_*.py) for what they measure.

    python benchmarks/gpu_bench.py SECTION --out DIR [--device cuda] [--dry-run]

Sections: tests, render, tokenizer, editor, fit, generate, train. ``--dry-run``: tiny sizes and few
repeats, to check the script on a machine without a GPU (use --device cpu); its numbers mean nothing.
Timings synchronise the device around each run; the tables give the median of the timed runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAPER_A100 = {"latency_ms": 180.0, "samples_per_s": 44.56, "memory_mb": 2567.0}  # Table 5, GPSToken-M128
DENSE_LIMIT = 2**28  # tokens x pixels above which the dense reference is not timed (seconds per call)


# --- output ------------------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; numbers right-aligned."""
    align = ["---:" if rows and isinstance(rows[0][i], (int, float)) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _cell(v: object) -> str:
    if isinstance(v, float):
        return "-" if v != v else f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def write(out: Path, section: str, title: str, note: str, body: str) -> None:
    path = out / f"{section}.md"
    path.write_text(f"### {title}\n\n{note}\n\n{body}")
    print(path.read_text(), flush=True)


# --- timing --------------------------------------------------------------------------------------------------


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(fn: Callable[[], object], device: str, min_time: float = 0.3, max_runs: int = 50,
              warm_up: bool = True) -> float:
    """Median wall time (ms) of ``fn`` over runs totalling about ``min_time`` s (at least one)."""
    if warm_up:
        fn()
    times: list[float] = []
    while not times or (sum(times) < min_time and len(times) < max_runs):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def device_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"


# --- sections ------------------------------------------------------------------------------------------------


def section_tests(args) -> None:
    """The device-capable tests (marker ``device``) on the device, as a table of outcomes."""
    xml = args.out / "tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", args.device, "-m", "device",
           f"--junitxml={xml}"]
    if args.dry_run:
        cmd.append(str(ROOT / "tests" / "test_render.py"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    rows = []
    for case in ET.parse(xml).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = f"{tag}: {(found.get('message') or '').splitlines()[0][:100] if found.get('message') else ''}"
        rows.append((f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}", outcome,
                     float(case.get("time", "nan"))))
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no output)"
    write(args.out, "tests", f"Device-capable tests on {device_name(args.device)}",
          f"`pytest --device {args.device} -m device`: {summary} ({seconds:.0f} s, exit status {proc.returncode}).",
          table(["test", "outcome", "s"], rows))


def section_render(args) -> None:
    """Renderer backends, forward and forward+backward, partition-like tokens of a 256 tile on a square grid."""
    import torch

    from bench_render import partition_like_tokens

    counts, channels, grids = ((128,), (16,), (64,)) if args.dry_run else ((128, 1024, 4096, 16384), (16, 32),
                                                                          (256, 1024))
    min_time = 0.0 if args.dry_run else 0.3
    rows = []
    for grid in grids:
        for c in channels:
            for count in counts:
                tokens = partition_like_tokens(count, channels=c).to(args.device)
                upstream = torch.randn(1, c, grid, grid, device=args.device)
                for label, make in (("fwd", _forward), ("fwd+bwd", _forward_backward)):
                    ms = {}
                    for backend in ("triton", "torch", "dense"):
                        if backend == "dense" and count * grid * grid > DENSE_LIMIT:
                            ms[backend] = float("nan")
                            continue
                        run = make(tokens, (grid, grid), backend, upstream)
                        ms[backend] = median_ms(run, args.device, min_time, warm_up=backend != "dense")
                    rows.append((count, c, grid, label, ms["triton"], ms["torch"], ms["dense"],
                                 ms["torch"] / ms["triton"], ms["dense"] / ms["triton"]))
    write(args.out, "render", f"Renderer on {device_name(args.device)}",
          "Partition-like tokens (benchmarks/bench_render.py) rendered on grid x grid, support 3, float32; "
          f"median ms. Dense timed once, and only up to 2^{DENSE_LIMIT.bit_length() - 1} token-pixels (- above).",
          table(["tokens", "C", "grid", "pass", "triton ms", "torch ms", "dense ms", "torch/triton", "dense/triton"],
                rows))


def _forward(tokens, size, backend, upstream):
    import torch

    from gpstoken.render import render

    def run():
        with torch.no_grad():
            render(tokens, size, backend=backend)
    return run


def _forward_backward(tokens, size, backend, upstream):
    from gpstoken.render import render

    def run():
        t = tokens.detach().requires_grad_(True)
        render(t, size, backend=backend).backward(upstream)
    return run


def section_tokenizer(args) -> None:
    """Batch-8 reconstruction (encode + decode) of the official M128 shape, random weights (bench_models.py)."""
    from bench_models import GPU_BATCH, gpu_batch

    # dry run: fp32 only (bf16 is emulated, and very slow, on CPUs without hardware bf16)
    arch, runs, precisions = ("tiny", 1, ("fp32",)) if args.dry_run else ("m128", 20, ("bf16", "fp32"))
    rows = []
    for precision in precisions:
        r = gpu_batch(arch, precision, device=args.device, runs=runs)
        rows.append((arch, precision, r["latency_ms"], r["samples_per_s"], r["memory_mb"],
                     PAPER_A100["latency_ms"] / r["latency_ms"], r["samples_per_s"] / PAPER_A100["samples_per_s"],
                     PAPER_A100["memory_mb"] / r["memory_mb"]))
    write(args.out, "tokenizer", f"Tokenizer batch-{GPU_BATCH} reconstruction on {device_name(args.device)}",
          f"Encode + decode of {GPU_BATCH} astronaut tiles (partition excluded), mean of {runs} runs; peak allocated "
          f"memory. Paper (A100, M128): {PAPER_A100['latency_ms']:.0f} ms, {PAPER_A100['samples_per_s']} samples/s, "
          f"{PAPER_A100['memory_mb']:.0f} MB (ratios above 1: better than the paper).",
          table(["arch", "precision", "latency ms", "samples/s", "peak MB", "paper/ours latency",
                 "ours/paper samples/s", "paper/ours memory"], rows))


def section_editor(args) -> None:
    """The editor's engines (drag -> reconstruction, fast and full paths) as bench_editor.py measures them."""
    from bench_editor import engine_only, run_pipeline
    from bench_models import build_model
    from PySide6.QtCore import QCoreApplication

    from gpstoken.models import save_tokenizer
    from gpstoken_studio.engines.fit_engine import FitEngine
    from gpstoken_studio.engines.model_engine import ModelEngine

    arch, steps = ("tiny", 3) if args.dry_run else ("m128", 60)
    app = QCoreApplication.instance() or QCoreApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.safetensors"
        save_tokenizer(build_model(arch), path)
        model_engine = ModelEngine(path)
        model_engine.model.to(args.device)  # the engine keeps the device of the loaded model
        for name, engine, tokens in (("fit", FitEngine(), 128), (f"model {arch} (random weights)", model_engine, 128)):
            only = engine_only(engine, tokens, steps)
            e2e = run_pipeline(app, engine, tokens, steps)
            rows.append((name, tokens, only["cold"], only["fast"], only["full"], e2e["fast"], e2e["first"],
                         e2e["full"]))
    write(args.out, "editor", f"Editor engines on {device_name(args.device)}",
          f"256x256 astronaut, move of one Gaussian -> reconstruction (benchmarks/bench_editor.py); full path of the "
          f"fit engine = {steps} steps; median ms. The fit engine runs on the default device "
          f"({_default_device()}); the model engine's model was moved to {args.device}.",
          table(["engine", "tokens", "cold full", "fast", "full", "e2e fast", "e2e 1st", "e2e full"], rows))


def _default_device() -> str:
    from gpstoken.settings import default_device

    return str(default_device())


def section_fit(args) -> None:
    """Per-image fitting iterations per second (bench_fit.py) at 256x256."""
    from bench_fit import steps_per_second

    from gpstoken.io.images import load_image

    image = load_image(ROOT / "tests" / "golden" / "astronaut.png")
    counts, steps = ((128,), 3) if args.dry_run else ((128, 1024, 4096), 60)
    steps_per_second(image, 16, 2)  # warm-up: kernels, allocator
    rows = [(count, steps_per_second(image, count, steps)) for count in counts]
    write(args.out, "fit", f"Per-image fitting on {_default_device()} ({device_name(args.device)})",
          f"`gpstoken.fit` on astronaut 256x256, adaptive layout, {steps} steps timed between the first and last "
          "progress reports.", table(["tokens", "it/s"], rows))


def section_generate(args) -> None:
    """Stage 1 (layout) + stage 2 (textures) + decode of one 256-px image: bundled models, official SiT shape."""
    import torch
    from bench_generate import load_or_random
    from bench_models import build_model

    from gpstoken.generate import sample_layouts, sample_tokens
    from gpstoken.models import load_tokenizer
    from gpstoken.models.pipeline import decode_tokens

    layout, layout_kind = load_or_random("layout_tiny", "layout-tiny")
    layout.to(args.device)
    bundled_tok = ROOT / "assets" / "models" / "default.safetensors"
    cases = [("texture_tiny", "texture-tiny")] + ([] if args.dry_run else [("texture_xl", "texture-xl")])
    samplers = (("euler", 3),) if args.dry_run else (("sde", 250), ("ode", 0), ("euler", 50))
    rows = []
    for name, preset_name in cases:
        texture, kind = load_or_random(name, preset_name)  # texture_xl: the official SiT shape, random weights
        texture.to(args.device)
        if kind == "random" or not bundled_tok.is_file():
            tokenizer = build_model("tiny" if args.dry_run else "m128", args.device)
        else:
            tokenizer = load_tokenizer(bundled_tok, device=args.device)

        def stage_one():
            return sample_layouts(layout, 0, 1, method="ode", generator=torch.Generator().manual_seed(2))[1]

        cal = stage_one()
        one_ms = median_ms(stage_one, args.device, 0.0, max_runs=1, warm_up=False)
        g = torch.from_numpy(cal.g_init)
        for method, steps in samplers:
            def stage_two(model=texture, g=g, method=method, steps=steps):
                return sample_tokens(model, g, 0, method=method, steps=steps or 50, generator=torch.Generator().manual_seed(1))

            tokens = stage_two().cpu().numpy()  # (also the warm-up of stage 2)

            def decode(model=tokenizer, tokens=tokens):
                return decode_tokens(model, tokens, (1, 1))

            two_ms = median_ms(stage_two, args.device, 0.0, max_runs=1, warm_up=False)
            dec_ms = median_ms(decode, args.device, 0.0, max_runs=3)
            label = method if steps == 0 else f"{method} {steps}"
            rows.append((f"{name} ({kind})", label, one_ms, two_ms, dec_ms, one_ms + two_ms + dec_ms))
    write(args.out, "generate", f"Generation on {device_name(args.device)}",
          f"One 256-px image: stage 1 = layout_tiny ({layout_kind}), ode sampler, + calibration; stage 2 = texture "
          "sampling; decode = the bundled tokenizer after a bundled texture model, else a random M128; one run each "
          "after a warm-up, ms.",
          table(["texture model", "sampler", "stage 1 ms", "stage 2 ms", "decode ms", "total ms"], rows))


def section_train(args) -> None:
    """Training throughput of the real loop (bench_train.py's child runs): tiny and m128 at batch 16, bf16."""
    from bench_train import run_child

    from gpstoken.train.bundled_data import build_bundled_data, default_data_dir

    data_dir = default_data_dir()
    if not (data_dir / "train.txt").exists():
        build_bundled_data(data_dir)
    data = str(data_dir / "train.txt")
    if args.dry_run:
        configs, steps = [("micro", ["--batch", "2"])], 4
    else:
        configs, steps = [("tiny", ["--batch", "16"]), ("m128", ["--batch", "16", "--crop", "256"])], 30
    rows = [(cfg, " ".join(extra), run_child(cfg, 1, steps, args.device, data, extra)) for cfg, extra in configs]
    write(args.out, "train", f"Training throughput on {device_name(args.device)}",
          f"`gpstoken train tokenizer`, {steps} steps, precision auto (bf16 autocast on CUDA); median img/s of the "
          "logged rows after the first.", table(["config", "options", "img/s"], rows))


SECTIONS = {"tests": section_tests, "render": section_render, "tokenizer": section_tokenizer,
            "editor": section_editor, "fit": section_fit, "generate": section_generate, "train": section_train}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("section", choices=sorted(SECTIONS))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry-run", action="store_true", help="tiny sizes: checks the script, measures nothing")
    args = p.parse_args()
    if args.device == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")  # the Triton kernels on CPU tensors, before triton loads
    import torch

    torch.set_num_threads(1 if args.device == "cpu" else torch.get_num_threads())
    args.out.mkdir(parents=True, exist_ok=True)
    SECTIONS[args.section](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
