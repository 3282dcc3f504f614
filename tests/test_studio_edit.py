"""Editing in the real window: rubber band, handles, split/merge, locks in a fit, live brush, redraws."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.model.region_edits import halves
from gpstoken_studio.testing import GOLDEN, canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode
from gpstoken_studio.tools.handles import handle_points
from gpstoken_studio import style

pytestmark = [pytest.mark.gui, pytest.mark.timeout(180)]
torch.set_num_threads(1)


def plane_at(win, qpoint: QPoint) -> np.ndarray:
    """Where a press at ``qpoint`` lands in plane pixels (the integer screen position, mapped back)."""
    return win.canvas.to_plane(win.canvas.left, (qpoint.x(), qpoint.y()))


def inside(doc, a: np.ndarray, b: np.ndarray) -> set:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    c = doc.plane.centers(doc.layout.geometry())
    ok = (c >= lo).all(axis=1) & (c <= hi).all(axis=1) & ~doc.layout.deleted()
    return set(np.flatnonzero(ok).tolist())


def elongated_token(doc, near=(128, 128)) -> int:
    """A live token whose region is clearly longer than wide (a well-defined major axis), near ``near``."""
    e = doc.plane.ellipses(doc.layout.geometry())
    ok = np.flatnonzero((e[:, 2] > 1.5 * e[:, 3]) & (e[:, 3] > 3))
    c = doc.plane.centers(doc.layout.geometry())[ok]
    return int(ok[np.argmin(np.hypot(*(c - np.asarray(near)).T))])


def test_rubber_band_selects_exactly_the_tokens_inside_and_shift_ctrl_add_and_remove(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=64, steps=0)
    doc, native = win.document, win.canvas.native
    win.set_mode(Mode.SELECT)
    a, b = canvas_point(win, (-3, -3)), canvas_point(win, (140, 120))  # from outside the image: empty canvas
    drag(qtbot, native, a, b)
    first = inside(doc, plane_at(win, a), plane_at(win, b))
    assert 5 < len(first) < 64 and set(doc.layout.selection().tolist()) == first
    c, d = canvas_point(win, (150, 150)), canvas_point(win, (250, 250))  # starts on a token: shift makes it a band
    drag(qtbot, native, c, d, modifiers=Qt.ShiftModifier)
    second = inside(doc, plane_at(win, c), plane_at(win, d))
    assert second and set(doc.layout.selection().tolist()) == first | second
    e, f = canvas_point(win, (60, 60)), canvas_point(win, (250, 250))
    drag(qtbot, native, e, f, modifiers=Qt.ControlModifier)
    assert set(doc.layout.selection().tolist()) == (first | second) - inside(doc, plane_at(win, e), plane_at(win, f))
    assert len(doc.history) == 0  # selection is not an edit


def test_handles_resize_one_axis_and_rotate_only_the_angle(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=64, steps=0)
    doc, native = win.document, win.canvas.native
    i = elongated_token(doc)
    doc.layout.select([i])
    assert win.views["handles"].shown
    g0 = doc.layout.geometry()
    e0 = doc.plane.ellipses(g0[i:i + 1])[0]
    u = np.array([np.cos(e0[4]), np.sin(e0[4])])

    # the major-axis handle, dragged outward along the axis
    start = canvas_point(win, handle_points(doc, i, win.canvas.pixel_size())["major"])
    end = canvas_point(win, handle_points(doc, i, win.canvas.pixel_size())["major"] + 6 * u)
    drag(qtbot, native, start, end)
    g1 = doc.layout.geometry()
    e1 = doc.plane.ellipses(g1[i:i + 1])[0]
    assert np.flatnonzero((g1 != g0).any(axis=1)).tolist() == [i] and len(doc.history) == 1
    assert e1[2] > e0[2] + 2  # the major semi-axis grew (1 sigma; the handle sits at 1.5 sigma)
    assert e1[3] == pytest.approx(e0[3], abs=1e-3) and e1[4] == pytest.approx(e0[4], abs=1e-5)
    assert np.array_equal(g1[i, 3:5], g0[i, 3:5])  # the centre did not move at all

    # the rotate handle, dragged around the centre
    rot = handle_points(doc, i, win.canvas.pixel_size())["rotate"]
    centre = doc.plane.centers(g1[i:i + 1])[0]
    turned = centre + np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]]) @ (rot - centre)
    drag(qtbot, native, canvas_point(win, rot), canvas_point(win, turned))
    g2 = doc.layout.geometry()
    e2 = doc.plane.ellipses(g2[i:i + 1])[0]
    assert len(doc.history) == 2
    assert e2[2] == pytest.approx(e1[2], abs=1e-3) and e2[3] == pytest.approx(e1[3], abs=1e-3)
    assert np.array_equal(g2[i, 3:5], g1[i, 3:5])
    assert abs((e2[4] - e1[4] + np.pi / 2) % np.pi - np.pi / 2 - 0.5) < 0.05  # turned by the drag's angle

    doc.history.undo()
    doc.history.undo()
    assert np.array_equal(doc.layout.geometry(), g0)


def test_split_undo_and_merge_back_through_the_actions(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=32, steps=0)
    doc, actions = win.document, win.actions_registry
    before = doc.layout.state()
    doc.layout.select([0, 1])
    assert not win.qactions["studio:split"].isEnabled()
    actions.trigger("split")  # not applicable: says why, changes nothing
    assert "exactly one" in win.status.message.text() and doc.layout.state().equals(before)
    win.status.set_message("")
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    win.canvas.native.setFocus()
    qtbot.keyClick(win.canvas.native, Qt.Key_S)  # the disabled action's key explains too
    assert "exactly one" in win.status.message.text() and doc.layout.state().equals(before)

    i = int(np.argmax(np.prod(before.regions[:, 2:] - before.regions[:, :2] + 1, axis=1)))  # the largest region
    doc.layout.select([i])
    assert win.qactions["studio:split"].isEnabled()
    actions.trigger("split")
    m = len(before)
    assert len(doc.layout) == m + 1 and doc.layout.selection().tolist() == [i, m]
    first, second = halves(before.regions[i])
    assert doc.layout.regions()[i].tolist() == first.tolist() and doc.layout.regions()[m].tolist() == second.tolist()
    assert np.array_equal(doc.layout.geometry()[[i, m]], doc.plane.g_init(np.stack([first, second])))
    assert np.bincount(doc.layout.state().tiles[doc.layout.live()]).tolist() == [33]  # one tile holds the new token
    wait_idle(win)
    assert len(doc.result.rows) == m + 1

    doc.history.undo()
    assert doc.layout.state().equals(before)  # split, then undo: exactly as before
    doc.history.redo()
    doc.layout.select([i, m])
    assert win.qactions["studio:merge"].isEnabled()
    actions.trigger("merge")
    after = doc.layout.state()
    assert after.regions[i].tolist() == before.regions[i].tolist() and after.deleted[m]
    assert np.array_equal(after.geometry[i], before.geometry[i])  # the siblings merge into their parent
    assert len(doc.history) == 2
    wait_idle(win)


def test_locked_tokens_keep_geometry_and_features_through_a_fit(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=32, steps=3)
    doc = win.document
    r0 = doc.result
    doc.layout.select([3, 4])
    win.inspector.lock_geometry.click()  # the inspector's check box
    doc.layout.select([7])
    win.actions_registry.trigger("lock_features")
    assert doc.layout.locks()[[3, 4, 7]].tolist() == [LOCK_GEOMETRY, LOCK_GEOMETRY, LOCK_FEATURES]
    doc.layout.select([])
    colors = win.views["ginit"].node._style["a_color"][::4]
    assert np.allclose(colors[3], style.LOCKED_GEOMETRY) and np.allclose(colors[7], style.LOCKED_FEATURES)
    assert np.allclose(colors[0], style.GINIT)
    win.actions_registry.trigger("rerun")
    wait_idle(win)
    r1 = doc.result
    assert r1.revision == doc.revision and r1 is not r0
    assert np.array_equal(r1.tokens[[3, 4], :5], r0.tokens[[3, 4], :5])  # locked geometry did not move
    assert np.array_equal(r1.tokens[7, 5:], r0.tokens[7, 5:])  # locked features did not change
    free = np.setdiff1d(np.arange(32), [3, 4])
    assert (r1.tokens[free, :5] != r0.tokens[free, :5]).any(axis=1).sum() > 10  # the others kept fitting
    doc.layout.select([3])
    assert not win.inspector.spins["sigma_x"].isEnabled()
    assert not win.views["handles"].shown  # no handles on a geometry-locked token


def test_brush_repartitions_live_before_the_release(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=64, steps=0, brush_radius=14.0)
    doc = win.document
    start = doc.layout.state()
    seen = {}

    def while_held() -> None:
        qtbot.waitUntil(lambda: not doc.layout.state().equals(start), timeout=10000)
        seen["layout"] = doc.layout.state()
        seen["interaction"] = win.interaction.dragging

    win.set_mode(Mode.BRUSH)
    drag(qtbot, win.canvas.native, canvas_point(win, (30, 60)), canvas_point(win, (230, 60)), steps=10,
         before_release=while_held)
    assert seen["interaction"]  # the stroke was still in progress
    assert len(seen["layout"]) == 64 and not seen["layout"].equals(start)
    wait_idle(win)
    assert len(doc.history) == 1 and doc.result.revision == doc.revision
    doc.history.undo()
    assert doc.layout.state().equals(start) and not doc.bias.painted()


def test_many_model_changes_in_one_event_loop_turn_redraw_the_canvas_once(make_studio, qtbot):
    from PySide6.QtWidgets import QApplication

    win = make_studio(GOLDEN / "camera.png", tokens=64, steps=0)
    doc = win.document
    draws = []
    win.canvas.canvas.events.draw.connect(lambda event: draws.append(1))
    qtbot.wait(50)
    draws.clear()
    for k in range(10):
        doc.layout.select([k])
    QApplication.processEvents()
    qtbot.wait(50)
    assert len(draws) == 1
