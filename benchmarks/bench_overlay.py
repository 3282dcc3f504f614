"""Ellipse overlay redraw: our one-mesh quad visual vs one Line of all polylines (48 segments each).

A redraw = new ellipse data (every ellipse moved) + one draw of the canvas + glFinish, on whatever GL
the display gives (llvmpipe under Xvfb here). Target: 4096 ellipses in < 16 ms. Run:
    xvfb-run -a .venv/bin/python benchmarks/bench_overlay.py
(``LP_NUM_THREADS=0`` makes llvmpipe rasterise on the calling thread: CPU time then shows the work.)
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import vispy

vispy.use("pyside6")
from vispy import scene  # noqa: E402
from vispy.gloo import gl  # noqa: E402

from gpstoken_studio.views.ellipse_visual import Ellipses  # noqa: E402

SIZE = 256
CANVAS = (800, 800)
COUNTS = (128, 1024, 4096)
SEGMENTS = 48
REPEATS = 15


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


def timed(canvas, update) -> tuple[float, float]:
    """Median (wall ms, process CPU ms) of update + draw + glFinish."""
    def once(k: int) -> None:
        update(k)
        canvas.on_draw(None)
        gl.glFinish()

    once(0)
    wall, cpu = [], []
    for k in range(1, REPEATS + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        once(k)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)) * 1000, float(np.median(cpu)) * 1000


def main() -> int:
    canvas = scene.SceneCanvas(size=CANVAS, bgcolor="black", show=True)
    view = canvas.central_widget.add_view()
    view.camera = scene.PanZoomCamera(aspect=1, rect=(0, 0, SIZE, SIZE))
    rng = np.random.default_rng(0)
    quads = Ellipses(parent=view.scene)
    lines = scene.visuals.Line(parent=view.scene, connect="segments", method="gl", antialias=False)
    color = np.array([0.3, 0.85, 1.0, 0.9], np.float32)
    print(f"{CANVAS[0]}x{CANVAS[1]} canvas, {gl.glGetParameter(gl.GL_RENDERER)}, LP_NUM_THREADS="
          f"{os.environ.get('LP_NUM_THREADS', 'default')}; ms = median of {REPEATS} redraws "
          "(new data + draw + glFinish)")
    print(f"{'ellipses':>9} {'quads wall':>11} {'quads cpu':>10} {'lines wall':>11} {'lines cpu':>10} "
          f"{'lines/quads':>12} {'< 16 ms':>8}")
    for n in COUNTS:
        frames = [layout(n, rng) for _ in range(REPEATS + 1)]
        lines.visible, quads.visible = False, True
        q_wall, q_cpu = timed(canvas, lambda k: quads.set_data(frames[k], color))
        quads.visible, lines.visible = False, True
        l_wall, l_cpu = timed(canvas, lambda k: lines.set_data(pos=polylines(frames[k]), color=color))
        lines.visible = False
        print(f"{n:>9} {q_wall:>11.2f} {q_cpu:>10.2f} {l_wall:>11.2f} {l_cpu:>10.2f} {l_wall / q_wall:>12.1f} "
              f"{'yes' if q_wall < 16 else 'NO':>8}")
    canvas.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
