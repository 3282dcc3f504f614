"""The main window end to end: undo, brush, projects, errors, shortcuts, exports, recovery, the worker thread."""
import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QTimer
from PySide6.QtWidgets import QMessageBox

from gpstoken.io.tokenfile import TokenSet
from gpstoken_studio.testing import GOLDEN, canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)


def central_token(doc, point=(128, 128)) -> int:
    c = doc.plane.centers(doc.layout.geometry())
    return int(np.argmin(np.hypot(*(c - np.asarray(point)).T)))


def test_undo_and_redo_actions_restore_exactly(make_studio, qtbot):
    win = make_studio(tokens=64, steps=2)
    doc = win.document
    g0 = doc.layout.geometry()
    win.set_mode(Mode.MOVE)
    start = canvas_point(win, doc.plane.centers(g0)[central_token(doc)])
    drag(qtbot, win.canvas.native, start, start + QPoint(25, 15))
    g1 = doc.layout.geometry()
    assert not np.array_equal(g1, g0)
    win.actions_registry.trigger("undo")
    assert np.array_equal(doc.layout.geometry(), g0)
    win.actions_registry.trigger("redo")
    assert np.array_equal(doc.layout.geometry(), g1)
    wait_idle(win)
    assert doc.result.revision == doc.revision


def test_brush_stroke_with_the_mouse_raises_token_density_under_it(make_studio, qtbot):
    win = make_studio(tokens=64, steps=0, brush_radius=14.0)
    doc = win.document

    def under_stroke() -> int:
        c = doc.plane.centers(doc.layout.geometry())
        return int(((np.abs(c[:, 1] - 60) < 20) & (c[:, 0] > 20) & (c[:, 0] < 240)).sum())

    before, count = under_stroke(), len(doc.layout)
    win.set_mode(Mode.BRUSH)
    drag(qtbot, win.canvas.native, canvas_point(win, (30, 60)), canvas_point(win, (230, 60)), steps=12)
    wait_idle(win)
    assert len(doc.layout) == count == 64
    assert doc.bias.values()[60, 130] > 0.9
    assert under_stroke() >= before + 6
    assert len(doc.history) == 1
    assert doc.result.revision == doc.revision  # the full path ran on the new layout


def test_token_slider_repartitions_live_and_commits_one_step(make_studio, qtbot):
    win = make_studio(tokens=64, steps=0)
    doc, slider = win.document, win.toolbar.tokens.slider
    slider.setSliderDown(True)
    for n in (80, 100, 128):
        slider.setValue(win.toolbar.tokens.value_of(n))
    wait_idle(win)  # the previews are partitioned on the worker: the layout shows the held count, nothing recorded
    held = win.toolbar.tokens.count_of(slider.value())
    assert len(doc.layout) == held and doc.settings.tokens_per_tile == 64 and len(doc.history) == 0
    assert doc.result.path == "fast"
    slider.setSliderDown(False)
    wait_idle(win)
    n = doc.settings.tokens_per_tile
    assert 120 <= n <= 136 and len(doc.layout) == n and len(doc.history) == 1
    assert len(doc.result.rows) == n and doc.result.path == "full"
    assert sorted(r.tokens for r in win.workbench.book.records()) == [64, n]  # the rate-quality plot gained a point
    assert win.rate_plot.book is win.workbench.book
    doc.history.undo()
    assert doc.settings.tokens_per_tile == 64 and len(doc.layout) == 64


def test_sweep_fills_the_rate_quality_plot_without_editing(make_studio, qtbot):
    win = make_studio(tokens=32, steps=1)
    doc, revision = win.document, win.document.revision
    layout = doc.layout.state()
    win.pipeline.sweep((16, 64))
    wait_idle(win)
    psnr = {r.tokens: r.psnr for r in win.workbench.book.records()}
    assert sorted(psnr) == [16, 32, 64] and psnr[64] > psnr[16]
    assert doc.revision == revision and doc.layout.state().equals(layout)


def test_keyboard_shortcuts_reach_the_actions_from_the_canvas(make_studio, qtbot):
    from PySide6.QtCore import Qt

    win = make_studio(tokens=32, steps=0)
    doc = win.document
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)  # shortcuts only fire in the active window
    win.canvas.native.setFocus()
    qtbot.keyClick(win.canvas.native, Qt.Key_B)
    assert win.interaction.mode == Mode.BRUSH
    radius = doc.settings.brush_radius
    qtbot.keyClick(win.canvas.native, Qt.Key_BracketRight)
    assert doc.settings.brush_radius == pytest.approx(radius * 1.25)
    assert win.toolbar.brush.value() == pytest.approx(round(radius * 1.25))
    doc.layout.select([0])
    qtbot.keyClick(win.canvas.native, Qt.Key_Delete)
    assert doc.layout.deleted()[0]
    qtbot.keyClick(win.canvas.native, Qt.Key_Z, Qt.ControlModifier)
    assert not doc.layout.deleted().any()


def test_inspector_edits_one_token_numerically_as_one_undo_step(make_studio, qtbot):
    win = make_studio(tokens=32, steps=0)
    doc = win.document
    g0 = doc.layout.geometry()
    doc.layout.select([5])
    spin = win.inspector.spins["sigma_x"]
    spin.setValue(spin.value() + 4.0)
    win.inspector.spins["rho"].setValue(0.5)
    g1 = doc.layout.geometry()
    assert np.flatnonzero((g1 != g0).any(axis=1)).tolist() == [5]
    assert doc.plane.sigmas_px(g1[5:6])[0, 0] == pytest.approx(doc.plane.sigmas_px(g0[5:6])[0, 0] + 4.0, abs=0.01)
    assert g1[5, 2] == pytest.approx(0.5) and len(doc.history) == 2
    doc.history.undo()
    doc.history.undo()
    assert np.array_equal(doc.layout.geometry(), g0)


def test_dropping_an_image_file_opens_it(make_studio, qtbot):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    win = make_studio(image=None, tokens=16, steps=0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(GOLDEN / "coffee.png"))])
    win.dropEvent(QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    wait_idle(win)
    assert win.document.image_path.name == "coffee.png" and len(win.document.layout) == 16


def test_pan_and_zoom_are_shared_by_both_views(make_studio, qtbot):
    win = make_studio(tokens=16, steps=0)
    left, right = win.canvas.left.camera, win.canvas.right.camera
    win.actions_registry.trigger("zoom_in")
    assert left.rect.width < 256 and left.rect == right.rect
    win.set_mode(Mode.PAN)
    drag(qtbot, win.canvas.native, canvas_point(win, (100, 100)), canvas_point(win, (140, 120)))
    assert left.rect == right.rect and left.rect.left < 0


def test_save_and_open_project_round_trip(make_studio, qtbot, tmp_path):
    win = make_studio(tokens=48, steps=2)
    doc = win.document
    win.set_mode(Mode.BRUSH)
    drag(qtbot, win.canvas.native, canvas_point(win, (40, 40)), canvas_point(win, (90, 60)))
    doc.layout.select([3, 4])
    win.actions_registry.trigger("lock_geometry")
    wait_idle(win)
    path = tmp_path / "p.gpsproj"
    assert win.save_project(path) and not doc.history.dirty
    other = make_studio(image=None)
    assert other.open_path(path)
    wait_idle(other)
    d2 = other.document
    assert d2.layout.state().equals(doc.layout.state())
    assert np.array_equal(d2.bias.values(), doc.bias.values())
    assert np.array_equal(d2.image, doc.image) and d2.settings == doc.settings
    assert d2.result is not None and d2.result.path == "full"


def test_corrupt_project_shows_an_error_dialog_and_changes_nothing(make_studio, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a, **k: shown.append((title, text)))
    win = make_studio(tokens=32, steps=0)
    doc, revision, layout = win.document, win.document.revision, win.document.layout.state()
    bad = tmp_path / "broken.gpsproj"
    bad.write_bytes(b"PK\x03\x04 this is not a real zip")
    assert not win.open_path(bad)
    assert len(shown) == 1 and "broken.gpsproj" in shown[0][1] and "\n" not in shown[0][1]
    assert win.document is doc and doc.revision == revision and doc.layout.state().equals(layout)


def test_help_lists_every_registered_action_and_shortcut(make_studio, qtbot):
    win = make_studio(image=None)
    dialog = win.show_shortcuts()
    qtbot.addWidget(dialog)
    listed = dialog.listed()
    registry = list(win.actions_registry)
    assert len(listed) == len(registry) >= 40
    assert {(title, keys or "—") for _, title, keys in listed} == {(a.title, a.shortcut or "—") for a in registry}
    keys = [a.shortcut.lower() for a in registry if a.shortcut]
    assert len(keys) == len(set(keys))
    for a in registry:
        assert win.qactions[a.id].shortcut().toString() == (a.shortcut and win.qactions[a.id].shortcut().toString())
        assert bool(a.shortcut) == (not win.qactions[a.id].shortcut().isEmpty())


def test_exported_tokens_are_read_by_the_cli(make_studio, qtbot, tmp_path):
    from gpstoken.cli import main as cli

    win = make_studio(tokens=32, steps=2)
    tokens, recon = tmp_path / "t.npz", tmp_path / "r.png"
    assert win.export_tokens(tokens) and win.export_reconstruction(recon) and win.export_overlay(tmp_path / "o.png")
    ts = TokenSet.load(tokens)
    assert ts.tokens.shape == (1, 32, 8) and ts.features == "rgb"
    assert np.allclose(ts.g_init[0], win.document.layout.geometry(), atol=1e-6)
    assert cli(["render", str(tokens), "--out", str(tmp_path / "f.npy")]) == 0
    assert np.load(tmp_path / "f.npy").shape[0] == 3


def test_engine_work_never_runs_on_the_gui_thread_which_keeps_ticking_meanwhile(make_studio, qtbot, monkeypatch):
    win = make_studio(GOLDEN / "astronaut.png", tokens=128, steps=40)
    doc, engine = win.document, win.pipeline.engine
    gui, worker_threads, fitting = threading.get_ident(), set(), threading.Event()

    def spied(run, marks_fit: bool):
        def call(*args, **kwargs):
            worker_threads.add(threading.get_ident())
            if marks_fit:
                fitting.set()
            try:
                return run(*args, **kwargs)
            finally:
                fitting.clear()
        return call

    monkeypatch.setattr(engine, "fast", spied(engine.fast, False))
    monkeypatch.setattr(engine, "full", spied(engine.full, True))
    ticks_while_fitting = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks_while_fitting.append(fitting.is_set()))
    timer.start()
    win.set_mode(Mode.MOVE)
    start = canvas_point(win, doc.plane.centers(doc.layout.geometry())[central_token(doc)])
    drag(qtbot, win.canvas.native, start, start + QPoint(40, 30), steps=30)
    wait_idle(win, timeout=120)
    timer.stop()
    assert doc.result.path == "full" and doc.result.revision == doc.revision
    assert worker_threads and gui not in worker_threads  # the fast paths of the drag and the full fit
    assert sum(ticks_while_fitting) >= 3  # the GUI thread ran its timers while the fit was running


def test_replacing_an_edited_document_asks_first_and_cancel_keeps_it(make_studio, qtbot, monkeypatch):
    from gpstoken_studio.model import commands

    win = make_studio(tokens=32, steps=0)
    win.confirm_close = True
    doc = win.document
    doc.history.push(commands.delete_tokens(doc, [0]))
    answers = [QMessageBox.Cancel, QMessageBox.Cancel, QMessageBox.Discard]
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answers.pop(0))
    assert not win.open_path(GOLDEN / "coffee.png")
    assert win.show_generate().new_blank() is None
    assert win.document is doc and len(asked) == 2
    assert win.open_path(GOLDEN / "coffee.png") and win.document is not doc
    wait_idle(win)
    win.confirm_close = False


def test_automatic_gc_is_off_while_a_window_lives_and_back_on_after(make_studio, qtbot):
    import gc

    win = make_studio(image=None)
    assert not gc.isenabled()
    collected, thresholds = [], gc.get_threshold()
    gc.callbacks.append(lambda phase, info: phase == "start" and collected.append(info["generation"]))
    try:
        gc.set_threshold(1, 1, 1)
        qtbot.wait(1200)  # the window's collector runs on the GUI thread
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.pop()
    assert collected
    win.close()
    assert gc.isenabled()


def test_narrow_window_puts_the_view_bar_on_its_own_row_so_no_control_overflows(make_studio, qtbot):
    win = make_studio(image=None)
    bars = (win.toolbar, win.view_bar)
    for width, below in ((1280, True), (1900, False), (1280, True)):
        win.resize(width, 760)
        qtbot.waitUntil(lambda w=width: win.width() == w)
        assert win.toolBarBreak(win.view_bar) is below
        qtbot.waitUntil(lambda: all(w.isVisible() for bar in bars for a in bar.actions()
                                    if (w := bar.widgetForAction(a)) is not None))
    assert win.view_bar.y() > win.toolbar.y()
