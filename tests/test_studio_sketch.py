"""Sketch-aware layouts in the real window: Gaussians drawn by mouse drags survive Calibrate as tokens, locks
are respected, painted density is a second way to sketch, and bad sketches lose nothing."""
import numpy as np
import pytest
import torch

from gpstoken.generate.sketch import box_iou, sketch_boxes
from gpstoken_studio.model import commands
from gpstoken_studio.model.layout import LOCK_GEOMETRY
from gpstoken_studio.testing import canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)
SIZE = (256, 256)


def finish(panel, qtbot, timeout_ms: int = 120_000) -> None:
    qtbot.waitUntil(lambda: panel.job is None, timeout=timeout_ms)
    wait_idle(panel.window)


def draw(win, qtbot, boxes) -> None:
    """Gaussians drawn with the Add tool by real mouse drags over ``boxes`` (plane pixels)."""
    win.set_mode(Mode.ADD)
    for x0, y0, x1, y1 in boxes:
        drag(qtbot, win.canvas.native, canvas_point(win, (x0, y0)), canvas_point(win, (x1, y1)))


def assert_partition(regions: np.ndarray, tokens: int = 128) -> None:
    assert len(regions) == tokens
    cover = np.zeros(SIZE, np.int64)
    for x0, y0, x1, y1 in regions:
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == 1).all()


HEAD = (40, 40, 215, 215)  # no region of the halving is close to it, and it holds the others
EYES = [(64, 64, 95, 95), (160, 64, 191, 95)]
MOUTH = (64, 160, 127, 191)
OFF_GRID = (200, 200, 230, 230)  # straddles the halving's lines: no region reaches IoU 0.5


@pytest.mark.parametrize("fill", ["layout model", "sketch outlines"])
def test_drawn_gaussians_survive_calibration_as_tokens(make_studio, qtbot, fill):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    draw(win, qtbot, [HEAD, *EYES, MOUTH, OFF_GRID])
    sketch = doc.layout.geometry()
    assert len(sketch) == 5
    panel.fill.setCurrentText(fill)
    assert panel.calibrate()
    finish(panel, qtbot)
    regions = doc.layout.regions()
    assert_partition(regions)
    assert panel.staging.ghost_count == 5 and panel.staging.ghost.visible  # the sketch over the calibrated layout
    kept = doc.layout.selection()
    assert len(kept) == 3  # the eyes and the mouth; the head holds them, the last box has no close region
    iou = box_iou(sketch_boxes(sketch, SIZE), regions[kept])
    assert (iou[1:4].max(axis=1) >= 0.9).all()  # drawn on the halving's lines: near-exact
    assert iou[[0, 4]].max() < 0.5
    assert "kept 3 of 5 sketched Gaussians" in panel.status.text()
    doc.history.undo()  # one step brings the sketch back
    assert np.array_equal(doc.layout.geometry(), sketch)


def test_a_locked_gaussian_is_kept_before_the_smaller_ones_inside_it(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    big, small = (128, 0, 255, 127), (160, 32, 191, 63)
    draw(win, qtbot, [big, small])
    sketch = doc.layout.geometry()
    panel.fill.setCurrentText("sketch outlines")
    assert panel.calibrate()
    finish(panel, qtbot)
    kept = doc.layout.selection()
    assert box_iou(sketch_boxes(sketch, SIZE), doc.layout.regions()[kept]).max(axis=1)[1] >= 0.9  # the small one
    doc.history.undo()
    doc.layout.select(np.array([0]))
    win.lock(LOCK_GEOMETRY, True)
    assert panel.calibrate()
    finish(panel, qtbot)
    kept = doc.layout.selection()
    assert len(kept) == 1 and doc.layout.locks()[kept[0]] == LOCK_GEOMETRY  # kept, and still locked
    assert tuple(doc.layout.regions()[kept[0]]) == big


def test_bad_sketches_say_one_line_and_lose_nothing(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    assert not panel.calibrate() and "Nothing to calibrate" in panel.status.text()
    assert not panel.generate() and len(doc.layout) == 0
    draw(win, qtbot, [EYES[0]])
    bad = np.array([0.1, 0.1, 0.0, np.nan, 0.0], np.float32)
    with np.errstate(invalid="ignore"):
        doc.history.push(commands.AddToken(len(doc.layout), commands.new_row(doc, bad)))
    before = doc.layout.state()
    assert panel.calibrate()
    finish(panel, qtbot)
    assert "holds NaN" in panel.status.text() and "\n" not in panel.status.text()
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(doc.layout.state().arrays(), before.arrays(), strict=True))


def test_painted_density_is_a_second_way_to_sketch(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_density_canvas()
    wait_idle(win)  # the canvas's partition is computed on the worker
    assert doc.sketch and len(doc.layout) == 128 and win.interaction.mode == Mode.BRUSH
    before = doc.layout.state()
    drag(qtbot, win.canvas.native, canvas_point(win, (20, 40)), canvas_point(win, (110, 40)), steps=12)
    wait_idle(win)
    regions = doc.layout.regions()
    assert not np.array_equal(regions, before.regions)
    centre_y = (regions[:, 1] + regions[:, 3]) / 2
    area = (regions[:, 2] - regions[:, 0] + 1) * (regions[:, 3] - regions[:, 1] + 1)
    painted = (centre_y < 64) & ((regions[:, 0] + regions[:, 2]) / 2 < 128)
    assert area[painted].mean() * 2 < area[~painted].mean()  # tokens gather where the density is painted
    painted_layout = doc.layout.state()
    assert panel.calibrate()
    finish(panel, qtbot)
    assert {tuple(r) for r in doc.layout.regions()} == {tuple(r) for r in painted_layout.regions}
    assert "kept 128 of 128" in panel.status.text()


def test_generate_on_a_sketch_shows_the_calibrated_layout_first(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    draw(win, qtbot, [*EYES, MOUTH])
    sketch = doc.layout.geometry()
    panel.fill.setCurrentText("sketch outlines")
    panel.count.setValue(1)
    panel.sampler.setCurrentText("euler")
    panel.steps.setValue(4)
    seen = []
    panel.scheduler.partial.connect(lambda job, v: seen.append((type(v).__name__, len(doc.layout))))
    assert panel.generate()
    finish(panel, qtbot)
    assert seen[0] == ("SketchCalibration", 128)  # installed before the first texture preview
    assert panel.staging.ghost_count == 3
    cand = panel.candidates[0]
    assert np.array_equal(cand.layout.regions, doc.layout.regions())
    iou = box_iou(sketch_boxes(sketch, SIZE), doc.layout.regions()[doc.layout.selection()])
    assert (iou.max(axis=1) >= 0.9).all()
