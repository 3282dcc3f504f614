"""Drag-to-reconstruction latency of the editor at 256x256, per engine, fast and full paths.

Measured through the real pipeline (document -> command -> job scheduler worker -> result applied
on the main thread), with a QCoreApplication event loop and no window: the time from pushing a
move of one Gaussian to the moment the document holds the result for that revision. Targets
(DESIGN.md): fast path < 50 ms with fitting, < 150 ms with the bundled model; full path < 400 ms
with the bundled model. The engine-only columns time the adapter calls directly. Run:
    .venv/bin/python benchmarks/bench_editor.py [--model CKPT [--config YAML]] [--steps 60]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
REPEATS = 7


def engines(args) -> list[tuple[str, object, int]]:
    from gpstoken_studio.engines.fit_engine import FitEngine
    from gpstoken_studio.engines.model_engine import ModelEngine

    out = [("fit", FitEngine(), 128)]
    if args.model:
        out.append((f"model {Path(args.model).name}", ModelEngine(args.model, args.config), args.tokens))
    else:
        out.append(("model official_tiny_a (golden)", ModelEngine(GOLDEN / "official_tiny_a.safetensors",
                                                                  GOLDEN / "official_tiny_a.yaml"), 32))
    return out


def run_pipeline(engine, tokens: int, steps: int) -> dict[str, float]:
    from gpstoken.io.images import load_image
    from gpstoken_studio.model import Document, Settings
    from gpstoken_studio.model.commands import move_tokens
    from gpstoken_studio.session.jobs import JobScheduler
    from gpstoken_studio.session.pipeline import Pipeline

    doc = Document(load_image(GOLDEN / "astronaut.png"), Settings(tokens_per_tile=tokens, fit_steps=steps))
    scheduler = JobScheduler()
    pipeline = Pipeline(scheduler, engine)
    pipeline.set_document(doc)
    assert pipeline.wait_idle(600)
    centers = doc.plane.centers(doc.layout.geometry())
    i = int(np.argmin(np.hypot(*(centers - [128, 128]).T)))
    times: dict[str, list[float]] = {"fast": [], "first": [], "full": []}

    def arrived(revision: int, path: str, partial_ok: bool) -> bool:
        r = doc.result
        return r is not None and r.revision == revision and r.path == path and (partial_ok or not r.partial)

    for _ in range(REPEATS):
        for final in (False, True):
            origin = doc.layout.rows([i])
            t0 = time.perf_counter()
            doc.history.push(move_tokens(doc, origin, np.array([i]), np.array([2.0, 1.0]), final=final))
            revision = doc.revision
            stages = [("first", True), ("full", False)] if final else [("fast", False)]
            for key, partial_ok in stages:
                while not arrived(revision, "full" if final else "fast", partial_ok):
                    scheduler.drain()
                    time.sleep(0.0005)
                times[key].append(time.perf_counter() - t0)
            assert pipeline.wait_idle(600)
    scheduler.shutdown()
    return {key: float(np.median(v)) * 1000 for key, v in times.items()}


def engine_only(engine, tokens: int, steps: int) -> dict[str, float]:
    from gpstoken.io.images import load_image
    from gpstoken_studio.engines.base import EngineRequest
    from gpstoken_studio.model import Document, Settings
    from gpstoken_studio.model.commands import move_tokens

    doc = Document(load_image(GOLDEN / "astronaut.png"), Settings(tokens_per_tile=tokens))
    doc.reset_layout(doc.partition())

    def request(previous):
        rows = doc.layout.live()
        s = doc.layout.rows(rows)
        return EngineRequest(0, np.array(doc.image), doc.plane, rows, s.geometry, s.regions, s.tiles, s.locks,
                             previous, None, steps)

    noop = lambda *a: None  # noqa: E731
    t0 = time.perf_counter()
    cold = engine.full(request(None), noop, lambda: False, noop)
    cold_s = time.perf_counter() - t0
    i = int(np.argmin(np.hypot(*(doc.plane.centers(doc.layout.geometry()) - [128, 128]).T)))
    fast, full = [], []
    for _ in range(REPEATS):
        doc.history.push(move_tokens(doc, doc.layout.rows([i]), np.array([i]), np.array([2.0, 1.0])))
        t0 = time.perf_counter()
        engine.fast(request(cold), lambda: False)
        fast.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine.full(request(cold), noop, lambda: False, noop)
        full.append(time.perf_counter() - t0)
    return {"cold": cold_s * 1000, "fast": float(np.median(fast)) * 1000, "full": float(np.median(full)) * 1000}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model")
    p.add_argument("--config")
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--steps", type=int, default=60, help="fit steps of the full path (the editor's default)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"256x256 astronaut, torch threads {args.threads}, full path = {args.steps} fit steps (fit engine); "
          f"median of {REPEATS}; load avg {os.getloadavg()[0]:.1f}")
    print(f"{'engine':<34} {'tokens':>6} {'cold full':>10} {'fast':>8} {'full':>8} {'e2e fast':>9} "
          f"{'e2e 1st':>8} {'e2e full':>9} {'full/fast':>10}")
    for name, engine, tokens in engines(args):
        only = engine_only(engine, tokens, args.steps)
        e2e = run_pipeline(engine, tokens, args.steps)
        print(f"{name:<34} {tokens:>6} {only['cold']:>9.0f}m {only['fast']:>7.1f}m {only['full']:>7.0f}m "
              f"{e2e['fast']:>8.1f}m {e2e['first']:>7.0f}m {e2e['full']:>8.0f}m {e2e['full'] / e2e['fast']:>10.1f}")
    print("(m = milliseconds; e2e = edit pushed -> result on the document, through the worker thread;\n"
          " 1st = first refined reconstruction of the full path (the fit shows every 10 steps))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
