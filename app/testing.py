"""pytest helpers for the editor (import the fixtures into a test module to use them).

``make_studio`` builds a real, shown main window (under Xvfb in tests), opens an image, waits for
the job scheduler to go idle, and closes everything afterwards. ``drag`` sends real Qt mouse
events with the button held, which vispy turns into press/move/release. ``soak`` drives a long
editing session (tests/test_studio_soak.py, benchmarks/soak_editor.py).
"""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from PySide6.QtCore import QPoint

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"


@pytest.fixture
def make_studio(qtbot, tmp_path, monkeypatch):
    """Factory: ``make_studio(image, tokens=64, steps=3, autosave_s, model, config, **settings) -> MainWindow``."""
    import vispy

    vispy.use("pyside6")
    monkeypatch.setenv("GPSTOKEN_STUDIO_RECOVERY_DIR", str(tmp_path / "recovery"))
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.widgets.main_window import MainWindow

    windows = []

    def factory(image: str | Path | None = GOLDEN / "camera.png", tokens: int = 64, steps: int = 3,
                autosave_s: float = 3600.0, model: str | Path | None = None, config: str | Path | None = None,
                **settings) -> MainWindow:
        s = dataclasses.replace(Settings(), tokens_per_tile=tokens, fit_steps=steps, **settings)
        win = MainWindow(settings=s, autosave_s=autosave_s, model=model, config=config)
        win.confirm_close = False
        win.resize(1200, 760)
        windows.append(win)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        if image is not None:
            assert win.open_path(image)
            wait_idle(win)
        return win

    yield factory
    for win in windows:
        win.close()


def wait_idle(win, timeout: float = 60.0) -> None:
    """Wait until no engine work is requested, queued, running or undelivered."""
    assert win.wait_idle(timeout), "the pipeline did not go idle"


def canvas_point(win, point_xy) -> "QPoint":
    from PySide6.QtCore import QPoint

    x, y = win.canvas.to_canvas(np.asarray(point_xy, dtype=np.float64))
    return QPoint(int(round(x)), int(round(y)))


def drag(qtbot, widget, start, end, steps: int = 8, modifiers=None, wait_ms: int = 12, before_release=None) -> None:
    """Press at ``start``, move in ``steps`` with the left button held, release at ``end`` (QPoints).

    vispy drops pointer moves that come less than 10 ms apart, so moves are spaced ``wait_ms``.
    ``before_release()`` runs with the button still held after the last move (to check live updates).
    """
    mouse_drag(widget, start, end, steps, modifiers, wait_ms, before_release)


def mouse_drag(widget, start, end, steps: int = 8, modifiers=None, wait_ms: int = 12, before_release=None) -> None:
    """``drag`` without pytest-qt (scripts): real Qt mouse events, the event loop running between moves."""
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    mods = modifiers if modifiers is not None else Qt.NoModifier
    QTest.mousePress(widget, Qt.LeftButton, mods, start)
    for k in range(1, steps + 1):
        p = QPoint(start.x() + (end.x() - start.x()) * k // steps, start.y() + (end.y() - start.y()) * k // steps)
        event = QMouseEvent(QEvent.MouseMove, QPointF(p), QPointF(widget.mapToGlobal(p)), Qt.NoButton,
                            Qt.LeftButton, mods)
        QApplication.sendEvent(widget, event)
        if wait_ms:
            QTest.qWait(wait_ms)
    if before_release is not None:
        before_release()
    QTest.mouseRelease(widget, Qt.LeftButton, mods, end)


def rss_mib() -> float:
    """Resident memory of this process in MiB (Linux; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def soak(win, actions: int, seed: int = 0, timeout: float = 120.0, on_action=None) -> list[float]:
    """A long editing session on ``win``'s document through real mouse events: brush strokes across the
    image and drags of single Gaussians in turn, each followed by its reconstruction (the pipeline goes
    idle). Returns the process RSS in MiB after each action (also passed to ``on_action(index, rss)``)."""
    from PySide6.QtCore import QPoint

    from gpstoken_studio.tools import Mode

    rng = np.random.default_rng(seed)
    rss = []
    for i in range(actions):
        doc = win.document
        h, w = doc.image_size
        if i % 2 == 0:
            win.set_mode(Mode.BRUSH)
            y = float(rng.uniform(0.1, 0.9)) * h
            start, end, steps = canvas_point(win, (0.1 * w, y)), canvas_point(win, (0.9 * w, y)), 10
        else:
            win.set_mode(Mode.MOVE)
            centers = doc.plane.centers(doc.layout.geometry())
            start = canvas_point(win, centers[rng.integers(len(centers))])
            dx, dy = rng.integers(5, 16, size=2) * rng.choice([-1, 1], size=2)
            end, steps = start + QPoint(int(dx), int(dy)), 6
        mouse_drag(win.canvas.native, start, end, steps=steps)
        wait_idle(win, timeout)
        rss.append(rss_mib())
        if on_action is not None:
            on_action(i, rss[-1])
    return rss
