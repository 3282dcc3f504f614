"""Long-session soak of the editor: the real window and event loop, brush strokes and drags of single
Gaussians in turn through real mouse events, each followed by its reconstruction, with each engine.
Prints RSS at the start (after the first action), at the end and its growth, the duration, and whether
every action landed in the history. Needs a display (xvfb-run on a headless machine). Run:
    xvfb-run -a .venv/bin/python benchmarks/soak_editor.py [--actions 500] [--engines fit model]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


def run(engine: str, actions: int, tokens: int, steps: int) -> dict:
    from gpstoken.models.default_model import default_model_path
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.testing import soak, wait_idle
    from gpstoken_studio.widgets.main_window import MainWindow

    model = str(default_model_path()) if engine == "model" else None
    settings = dataclasses.replace(Settings(), tokens_per_tile=tokens, fit_steps=steps, engine=engine,
                                   undo_depth=max(200, actions))
    win = MainWindow(settings=settings, model=model, autosave_s=30.0)
    win.confirm_close = False
    win.resize(1000, 640)
    win.show()
    assert win.open_path(GOLDEN / "camera.png")
    wait_idle(win)
    t0 = time.perf_counter()

    def progress(i: int, rss_now: float) -> None:
        if (i + 1) % 25 == 0:
            print(f"  {engine}: {i + 1} actions, {time.perf_counter() - t0:.0f} s, RSS {rss_now:.0f} MiB",
                  file=sys.stderr, flush=True)

    rss = soak(win, actions, on_action=progress)
    seconds = time.perf_counter() - t0
    doc = win.document
    row = {"engine": engine, "actions": actions, "tokens": tokens, "fit_steps": steps,
           "rss_start_mib": round(rss[0]), "rss_end_mib": round(rss[-1]), "rss_peak_mib": round(max(rss)),
           "growth_mib": round(rss[-1] - rss[0]), "seconds": round(seconds, 1),
           "ms_per_action": round(1000 * seconds / actions), "undo_steps": len(doc.history),
           "rss_quartiles_mib": [round(rss[int(q * (actions - 1))]) for q in (0, 0.25, 0.5, 0.75, 1)]}
    win.close()
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--actions", type=int, default=500)
    p.add_argument("--engines", nargs="+", default=["fit", "model"], choices=("fit", "model"))
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--steps", type=int, default=3, help="fit steps of the full path (fit engine)")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("GPSTOKEN_STUDIO_RECOVERY_DIR", tempfile.mkdtemp(prefix="soak-recovery-"))
    import vispy

    vispy.use("pyside6")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 (kept alive for the windows)
    rows = [run(engine, args.actions, args.tokens, args.steps) for engine in args.engines]
    print(f"{'engine':8} {'actions':>7} {'RSS start':>10} {'RSS end':>8} {'growth':>7} {'peak':>6} "
          f"{'seconds':>8} {'ms/action':>9} {'undo steps':>10}")
    for r in rows:
        print(f"{r['engine']:8} {r['actions']:7d} {r['rss_start_mib']:7d} MiB {r['rss_end_mib']:4d} MiB "
              f"{r['growth_mib']:+4d} MiB {r['rss_peak_mib']:6d} {r['seconds']:8.1f} {r['ms_per_action']:9d} "
              f"{r['undo_steps']:10d}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
