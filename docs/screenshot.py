"""Re-create docs/editor.png: a painted density stroke, two locked tokens, handles on a selected token.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshot.py [OUT.png]
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np
import vispy

ROOT = Path(__file__).resolve().parents[1]


def main(out: Path = ROOT / "docs" / "editor.png") -> int:
    from gpstoken_studio.model import commands
    from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY

    app, win = open_editor(ROOT / "assets" / "images" / "astronaut.png", (1500, 900), 600,
                           tokens_per_tile=128, fit_steps=60, brush_radius=14.0)
    doc = win.document
    paint_stroke(app, win, [np.array([x, 88 + 14 * np.sin(x / 25)]) for x in np.linspace(70, 190, 25)])
    win.wait_idle(600)

    centers = doc.plane.centers(doc.layout.geometry())
    nearest = lambda p: int(np.argmin(np.hypot(*(centers - np.asarray(p)).T)))  # noqa: E731
    doc.history.push(commands.set_locks(doc, [nearest((236, 24))], LOCK_GEOMETRY, True))
    doc.history.push(commands.set_locks(doc, [nearest((225, 230))], LOCK_FEATURES, True))
    e = doc.plane.ellipses(doc.layout.geometry())
    long = np.flatnonzero(e[:, 2] > 1.5 * e[:, 3])
    doc.layout.select([int(long[np.argmin(np.hypot(*(centers[long] - [200, 150]).T))])])
    win.pipeline.sweep((32, 64, 256, 512))
    win.wait_idle(900)
    return save_window(app, win, out)


def open_editor(image: Path, size: tuple[int, int], timeout_s: float, **settings):
    """(app, window): the editor at ``size`` with ``settings`` over the defaults, ``image`` open and reconstructed."""
    vispy.use("pyside6")
    from PySide6.QtWidgets import QApplication

    from gpstoken.settings import set_threads
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.widgets.main_window import MainWindow
    from gpstoken_studio.widgets.style import apply_dark_style

    set_threads(1)
    app = QApplication.instance() or QApplication([])
    apply_dark_style(app)
    win = MainWindow(settings=dataclasses.replace(Settings(), **settings), autosave_s=3600)
    win.confirm_close = False
    win.resize(*size)
    win.show()
    assert win.open_path(image) and win.wait_idle(timeout_s)
    return app, win


def paint_stroke(app, win, path: list[np.ndarray]) -> None:
    """One density brush stroke along ``path`` (plane pixels), driven as the canvas drives the brush tool."""
    from gpstoken_studio.tools import TOOLS, Mode, PointerEvent

    event = PointerEvent("press", path[0].copy(), press_position=path[0].copy())
    stroke = TOOLS[Mode.BRUSH](win.document, event, win.interaction.overlay)
    next(stroke)
    for point in path[1:]:
        event.type, event.position = "move", point
        next(stroke)
        app.processEvents()
    event.type = "release"
    next(stroke, None)


def pump(app, seconds: float) -> None:
    """Process events for ``seconds`` (lets the canvas draw what the last results changed)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def save_window(app, win, out: Path, seconds: float = 1.0) -> int:
    """Let the window draw for ``seconds``, grab it into ``out``, close it."""
    pump(app, seconds)
    win.grab().save(str(out))
    win.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(Path(a) for a in sys.argv[1:2])))
