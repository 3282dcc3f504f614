"""Ellipse overlay redraw: our visual (automatic: the CPU raster of many shapes, else point sprites for
small shapes and quads for large ones) vs each of its paths forced, the older all-quads drawing and one
Line of all polylines (48 segments each), what one drag step costs, and where the editor canvas spends
a frame at 4096 tokens.

A redraw = new ellipse data (every ellipse moved) + one draw of the canvas + glFinish; a drag step =
one ellipse's slot rewritten (``set_rows``) + draw + glFinish; "draw only" re-draws unchanged data.
On whatever GL the display gives (llvmpipe under Xvfb here). Target: 4096 ellipses in < 16 ms.
Times are the best and the median of REPEATS; CPU is process time (llvmpipe's threads included),
which machine load disturbs less than wall time. Run:
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/bench_overlay.py
(``LP_NUM_THREADS=0`` makes llvmpipe rasterise on the calling thread.)
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np
import vispy

vispy.use("pyside6")
from vispy import scene  # noqa: E402
from vispy.gloo import gl  # noqa: E402

from gpstoken_studio.views.ellipse_visual import Ellipses  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZE = 256
CANVAS = (800, 800)
COUNTS = (128, 1024, 4096)
SEGMENTS = 48
REPEATS = 21


def layout(n: int, rng: np.random.Generator) -> np.ndarray:
    """n ellipses tiling a SIZE x SIZE image, as a partition's inscribed ellipses would."""
    side = SIZE / np.sqrt(n)
    centers = rng.uniform(0, SIZE, (n, 2))
    axes = rng.uniform(0.25, 0.5, (n, 2)) * side * 1.5
    return np.c_[centers, axes, rng.uniform(-np.pi / 2, np.pi / 2, n)].astype(np.float32)


def polylines(e: np.ndarray) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, SEGMENTS + 1)
    x, y = e[:, 2:3] * np.cos(t), e[:, 3:4] * np.sin(t)
    c, s = np.cos(e[:, 4:5]), np.sin(e[:, 4:5])
    p = np.stack([e[:, 0:1] + c * x - s * y, e[:, 1:2] + s * x + c * y], axis=-1)
    return np.stack([p[:, :-1], p[:, 1:]], axis=2).reshape(-1, 2).astype(np.float32)


def timed(draw, update=lambda k: None) -> tuple[float, float, float, float]:
    """(best wall, median wall, best CPU, median CPU) in ms of update + draw + glFinish."""
    def once(k: int) -> None:
        update(k)
        draw()
        gl.glFinish()

    once(0)
    wall, cpu = [], []
    for k in range(1, REPEATS + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        once(k)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    w, c = np.array(wall) * 1000, np.array(cpu) * 1000
    return float(w.min()), float(np.median(w)), float(c.min()), float(np.median(c))


def fmt(t: tuple[float, ...]) -> str:
    return " ".join(f"{v:>7.2f}" for v in t)


def visual_tables() -> None:
    canvas = scene.SceneCanvas(size=CANVAS, bgcolor="black", show=True)
    view = canvas.central_widget.add_view()
    view.camera = scene.PanZoomCamera(aspect=1, rect=(0, 0, SIZE, SIZE))
    draw = lambda: canvas.on_draw(None)  # noqa: E731
    rng = np.random.default_rng(0)
    ours = Ellipses(parent=view.scene)  # automatic: CPU raster or GPU shapes
    gpu = Ellipses(parent=view.scene)
    gpu.raster = False  # the previous drawing: point sprites + quads on the GPU
    cpu = Ellipses(parent=view.scene)
    cpu.raster = True  # always the CPU raster
    quads = Ellipses(parent=view.scene)
    quads.raster, quads.point_max_px = False, 0  # the drawing before that: every shape a quad
    lines = scene.visuals.Line(parent=view.scene, connect="segments", method="gl", antialias=False)
    visuals = {"ours (auto)": ours, "GPU points+quads": gpu, "CPU raster": cpu, "GPU all quads": quads,
               "48-segment lines": lines}
    color = np.array([0.3, 0.85, 1.0, 0.9], np.float32)
    print(f"{CANVAS[0]}x{CANVAS[1]} canvas, {gl.glGetParameter(gl.GL_RENDERER)}, LP_NUM_THREADS="
          f"{os.environ.get('LP_NUM_THREADS', 'default')}, load {os.getloadavg()[0]:.2f}; "
          f"ms: best / median wall, best / median CPU of {REPEATS}")
    print("redraw = new data + draw; ratios: reference median / ours median (CPU)")
    print(f"{'ellipses':>9} | " + " | ".join(f"{name:^31}" for name in visuals) + " | ours path | "
          + " ".join(f"{name[:10]:>10}" for name in list(visuals)[1:]) + " | best CPU < 16")
    rows = []
    for n in COUNTS:
        frames = [layout(n, rng) for _ in range(REPEATS + 1)]
        measured = []
        for visual in visuals.values():
            for other in visuals.values():
                other.visible = other is visual
            if visual is lines:
                measured.append(timed(draw, lambda k: lines.set_data(pos=polylines(frames[k]), color=color)))
            else:
                measured.append(timed(draw, lambda k: visual.set_data(frames[k], color)))
        o = measured[0]
        path = "CPU raster" if ours._rastered else "GPU"
        for visual in visuals.values():
            visual.visible = visual is ours
        dragged = frames[0].copy()

        def one_slot(k: int) -> None:
            dragged[n // 2, 0] = frames[0][n // 2, 0] + k % 5  # one ellipse moves, the rest stay
            ours.set_rows([n // 2], dragged[n // 2:n // 2 + 1])

        ours.set_data(frames[0], color)
        rows.append((n, timed(draw, one_slot), timed(draw)))
        ours.visible = False
        print(f"{n:>9} | " + " | ".join(fmt(m) for m in measured) + f" | {path:>9} | "
              + " ".join(f"{m[3] / o[3]:>10.2f}" for m in measured[1:]) + f" | {'yes' if o[2] < 16 else 'NO':>9}")
    print(f"\n{'ellipses':>9} | {'ours, drag step: one slot + draw':^31} | {'ours, draw only (unchanged)':^31}")
    for n, step, still in rows:
        print(f"{n:>9} | {fmt(step)} | {fmt(still)}")
    canvas.close()


def editor_canvas_table(image: Path = ROOT / "tests" / "golden" / "rocket512.png", tokens: int = 1024) -> None:
    """The editor's own canvas (both views, every layer) at 4096 tokens: a frame, and each layer's share."""
    from PySide6.QtWidgets import QApplication

    from gpstoken_studio.model.bias import stamp
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.widgets.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    win = MainWindow(settings=dataclasses.replace(Settings(), tokens_per_tile=tokens, fit_steps=0), autosave_s=3600)
    win.confirm_close = False
    win.resize(1200, 760)
    win.show()
    assert win.open_path(image) and win.wait_idle(600)
    doc, canvas = win.document, win.canvas.canvas
    values = doc.bias.values()
    stamp(values, (200.0, 200.0), 60.0)
    doc.bias.set_patch((0, 0, values.shape[1], values.shape[0]), values)  # something painted: density drawn
    app.processEvents()
    draw = lambda: canvas.on_draw(None)  # noqa: E731
    print(f"\neditor canvas {canvas.size[0]}x{canvas.size[1]}, {len(doc.layout)} tokens ({image.name}): "
          "ms of one frame; a layer's share = frame - frame without it")
    full = timed(draw)
    print(f"{'frame, all layers':>26}: {fmt(full)}")
    layers = {"g_init ellipses": [win.views["ginit"].node], "partition boxes": [win.views["regions"].node],
              "density overlay": [win.views["density"].node], "image": [win.views["image"].node],
              "reconstruction": [win.views["recon"].recon]}
    for name, nodes in layers.items():
        for node in nodes:
            node.visible = False
        t = timed(draw)
        for node in nodes:
            node.visible = True
        print(f"{name:>26}: {fmt(tuple(a - b for a, b in zip(full, t)))}")
    for nodes in layers.values():
        for node in nodes:
            node.visible = False
    print(f"{'frame without them (chrome)':>26}: {fmt(timed(draw))}")
    win.close()


def main() -> int:
    visual_tables()
    editor_canvas_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
