"""Region analytics and the rate-quality workbench, driven through the real window and checked against direct
computations (gpstoken.metrics on the same mask) and against the `gpstoken` commands they print."""
import csv
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from gpstoken.metrics import haarpsi, psnr, ssim
from gpstoken_studio.engines.base import to_uint8
from gpstoken_studio.model.region_analytics import SOURCES
from gpstoken_studio.testing import canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]
torch.set_num_threads(1)
GPSTOKEN = [sys.executable, "-m", "gpstoken.cli"]


def choose_source(win, qtbot, source: str) -> None:
    win.region_panel.source.setCurrentIndex(SOURCES.index(source))
    qtbot.wait(10)


def selection_mask(doc) -> np.ndarray:
    h, w = doc.image_size
    m = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in doc.layout.regions()[doc.layout.selection()]:
        m[y0:min(y1 + 1, h), x0:min(x1 + 1, w)] = True
    return m


def test_region_analytics_of_a_rubber_band_selection_match_direct_metrics(make_studio, qtbot, tmp_path):
    win = make_studio(tokens=64, steps=3)
    doc, panel = win.document, win.region_panel
    recon = to_uint8(doc.result.reconstruction)
    choose_source(win, qtbot, "image")
    assert panel.analytics.after.tokens == len(doc.layout.live())
    assert panel.text("psnr_inside") == f"{doc.result.metrics['psnr']:.2f}"  # whole image = the Metrics panel
    assert panel.text("psnr_outside") == "—"

    win.set_mode(Mode.SELECT)  # shift-drag: a rubber band over the upper left quarter
    drag(qtbot, win.canvas.native, canvas_point(win, (8, 8)), canvas_point(win, (120, 120)),
         modifiers=Qt.ShiftModifier)
    rows = doc.layout.selection()
    assert 2 <= len(rows) < len(doc.layout.live())
    choose_source(win, qtbot, "selection")
    mask = selection_mask(doc)
    after = panel.analytics.after
    centres = np.rint(doc.plane.centers(doc.layout.geometry())).astype(int)
    assert after.tokens == int(mask[centres[:, 1], centres[:, 0]].sum()) >= len(rows)
    assert after.area_share == pytest.approx(mask.mean())
    assert after.metrics["psnr_inside"] == pytest.approx(psnr(doc.image, recon, mask), abs=1e-9)
    assert after.metrics["ssim_outside"] == pytest.approx(ssim(doc.image, recon, ~mask), abs=1e-9)
    assert after.metrics["haarpsi_inside"] == pytest.approx(haarpsi(doc.image, recon, mask), abs=1e-9)
    assert panel.text("psnr_inside") == f"{after.metrics['psnr_inside']:.2f}"
    assert panel.text("area_share") == f"{100 * mask.mean():.1f} %"

    qtbot.mouseClick(panel.pin_a, Qt.LeftButton)  # pin A, then an edit: before/after and the change
    win.toolbar.steps.setValue(6)  # more fit steps: the full path runs again, warm from the last result
    wait_idle(win)
    a = panel.analytics
    assert a.before.metrics == after.metrics and a.pins["A"] == after
    recon2 = to_uint8(doc.result.reconstruction)
    assert a.after.metrics["psnr_inside"] == pytest.approx(psnr(doc.image, recon2, mask), abs=1e-9)
    change = a.after.metrics["psnr_inside"] - after.metrics["psnr_inside"]
    assert panel.text("psnr_inside", "change") == f"{change:+.2f}"
    assert panel.text("psnr_inside", "pin A") == f"{after.metrics['psnr_inside']:.2f}"
    assert "warm-started" in panel.origin.text()

    panel.export(tmp_path / "region.csv")
    panel.export(tmp_path / "region.json")
    with open(tmp_path / "region.csv") as fh:
        rows_csv = list(csv.DictReader(fh))
    assert [r["label"] for r in rows_csv] == ["after", "before", "pin A"]
    assert float(rows_csv[0]["psnr_inside"]) == pytest.approx(a.after.metrics["psnr_inside"])
    data = json.loads((tmp_path / "region.json").read_text())
    assert data[1]["tokens"] == after.tokens and data[0]["source"] == "selection"


def test_region_analytics_of_the_painted_region_equal_the_masked_metrics(make_studio, qtbot):
    win = make_studio(tokens=64, steps=3)
    doc = win.document
    win.set_mode(Mode.BRUSH)
    drag(qtbot, win.canvas.native, canvas_point(win, (60, 60)), canvas_point(win, (110, 90)))
    wait_idle(win)
    choose_source(win, qtbot, "painted")
    after = win.region_panel.analytics.after
    assert after.metrics["psnr_inside"] == pytest.approx(doc.result.metrics["psnr_mask"], abs=1e-9)
    assert after.area_share == pytest.approx(doc.bias.mask().mean())
    assert 0 < after.tokens < after.total_tokens == len(doc.layout.live())


def run_command(command: str, cwd: Path) -> dict:
    args = shlex.split(command)
    assert args[0] == "gpstoken"
    out = subprocess.run(GPSTOKEN + ["--threads", "1"] + args[1:] + ["--quiet"], cwd=cwd, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_workbench_records_are_reproduced_by_their_commands(make_studio, qtbot, tmp_path):
    win = make_studio(tokens=32, steps=3)
    doc, bench = win.document, win.workbench
    first = bench.book.current
    assert (first.engine, first.tokens_per_tile, first.tokens, first.tiles, first.min_size, first.steps,
            first.warm, first.bias) == ("fit", 32, 32, 1, 8, 3, False, False)
    assert first.psnr == doc.result.metrics["psnr"]
    assert "fresh fit" in win.region_panel.origin.text()
    bench.table.selectRow(0)
    command = bench.command.text()
    assert command.startswith("gpstoken fit ") and "--tokens 32 --steps 3 --lam 2.5 --min-size 8" in command
    assert run_command(command, tmp_path)["psnr"] == pytest.approx(first.psnr, abs=1e-3)

    win.toolbar.steps.setValue(4)  # a warm-started refit: a second record, the first one kept
    wait_idle(win)
    assert len(bench.book) == 2 and bench.book.current.warm and bench.table.rowCount() == 2
    curves = win.rate_plot._curves  # fresh and warm fits are separate curves of the plot; the warm one is ringed
    assert sorted(curves) == sorted({first.series(), bench.book.current.series()}) and len(curves) == 2
    ring = win.rate_plot._current.getData()
    assert ring[1].tolist() == [bench.book.current.psnr]

    win.pipeline.sweep(counts=(16, 1024))  # 1024 per 256-px tile needs a minimum size below 8: the sweep takes 4
    wait_idle(win, 240)
    swept = {r.tokens_per_tile: r for r in bench.book.records() if r.origin == "sweep"}
    assert sorted(swept) == [16, 1024] and swept[1024].min_size == 4 and not swept[1024].warm
    assert swept[1024].tokens == 1024
    assert run_command(swept[16].command(str(doc.image_path)), tmp_path)["psnr"] == pytest.approx(
        swept[16].psnr, abs=1e-3)

    strip = bench.filmstrip  # the sweep's reconstructions, drawn as the person sees them
    assert strip.keys == [16, 1024] and strip.item(1).text().startswith("1024/tile")
    assert all(frame.shape == doc.image.shape for frame in strip.images)
    drawn = strip.shown(0).astype(np.int32)
    assert max(drawn.shape[:2]) == strip.iconSize().width()
    small = np.asarray(Image.fromarray(strip.images[0]).resize(drawn.shape[1::-1], Image.BILINEAR), np.int32)
    other = np.asarray(Image.fromarray(strip.images[1]).resize(drawn.shape[1::-1], Image.BILINEAR), np.int32)
    assert np.abs(drawn - small).mean() < 6 < np.abs(small - other).mean()  # 16 and 1024 tokens look unlike
    assert np.abs(drawn - small).mean() < np.abs(drawn - other).mean()

    win.export_workbench(tmp_path / "rate.csv")
    with open(tmp_path / "rate.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4 and {r["origin"] for r in table} == {"edit", "sweep"}
    assert all(r["command"].startswith("gpstoken fit ") for r in table)


def test_error_map_scale_adapts_and_the_fixed_scale_is_an_option(make_studio, qtbot):
    from vispy.color import get_colormap

    from gpstoken_studio import style

    win = make_studio(tokens=64, steps=3)
    doc = win.document
    error = style.error_map(doc.image, doc.result.reconstruction)
    top = float(np.percentile(error, 99.5))
    assert abs(top - style.ERROR_SCALE[1]) > 0.05  # the two scales colour a pixel differently
    win.view_bar.right_mode.setCurrentIndex(1)
    view = win.views["recon"]
    assert view.scale == (0.0, pytest.approx(top)) and tuple(win.canvas.colorbar.clim) == pytest.approx(view.scale)
    assert "adaptive" in win.canvas.right_title.text
    ys, xs = np.nonzero(np.abs(error - 0.5 * min(top, 0.25)) < 0.01)  # a band of mid-scale errors
    pick = np.linspace(0, len(xs) - 1, 30).astype(int)
    points = np.stack([xs[pick], ys[pick]], axis=1).astype(np.float64)
    values = error[ys[pick], xs[pick]]
    cmap = get_colormap(style.ERROR_CMAP)

    def colours(high: float) -> np.ndarray:
        return np.round(cmap.map(np.clip(values / high, 0, 1))[:, :3] * 255).astype(np.int32)

    def drawn() -> np.ndarray:
        img = win.canvas.canvas.render()
        ratio = img.shape[1] / win.canvas.canvas.size[0]
        xy = np.array([win.canvas.to_canvas(p, win.canvas.right) for p in points]) * ratio
        return img[xy[:, 1].astype(int), xy[:, 0].astype(int), :3].astype(np.int32)

    def closer(want: np.ndarray, other: np.ndarray) -> float:
        d = drawn()
        return float((np.abs(d - want).sum(1) < np.abs(d - other).sum(1)).mean())

    adaptive, fixed = colours(top), colours(style.ERROR_SCALE[1])
    assert closer(adaptive, fixed) >= 0.9
    win.view_bar.right_mode.setCurrentIndex(2)  # the fixed scale
    assert view.scale == style.ERROR_SCALE and "fixed" in win.canvas.right_title.text
    assert closer(fixed, adaptive) >= 0.9


def test_candidate_grid_shows_every_candidate_at_full_size_and_stages_the_clicked_one(make_studio, qtbot):
    from gpstoken_studio.engines.generation import Candidate, GenerationSettings

    win = make_studio(tokens=64, steps=2)
    doc, panel = win.document, win.show_generate()
    layout = doc.layout.state()
    tokens = np.zeros((len(layout), 8), np.float32)
    images = [np.array(doc.image), 255 - doc.image, np.ascontiguousarray(doc.image[::-1])]
    for seed, image in enumerate(images):  # as a generation delivers them
        panel.model._on_partial(None, Candidate(image, layout, tokens, GenerationSettings(seed=seed), seed))
    grid = panel.show_grid()
    qtbot.waitExposed(grid)
    assert grid.grid.count() == 3 and [grid.grid.item(i).text() for i in range(3)] == ["#1", "#2", "#3"]
    drawn = grid.grid.shown(1)
    assert drawn.shape == doc.image.shape  # 256 px: every pixel of a 256x256 candidate
    error = np.abs(drawn.astype(int) - images[1].astype(int)).mean()  # the display's colour depth rounds a little
    assert error < 6 and np.abs(drawn.astype(int) - images[2].astype(int)).mean() > 10 * error
    rect = grid.grid.visualItemRect(grid.grid.item(1))
    qtbot.mouseClick(grid.grid.viewport(), Qt.LeftButton, pos=rect.center())
    assert panel.strip.currentRow() == 1 and "#2" in win.canvas.right_title.text
    grid.side.setValue(128)
    assert max(grid.grid.shown(0).shape[:2]) == 128
    panel.discard(0)
    assert [grid.grid.item(i).text() for i in range(grid.grid.count())] == ["#2", "#3"]


def test_the_two_views_zoom_and_pan_together(make_studio, qtbot):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    win = make_studio(tokens=32, steps=1)
    canvas = win.canvas
    left, right = canvas.left.camera, canvas.right.camera
    width = left.rect.size[0]
    pos = QPointF(*canvas.to_canvas((180.0, 60.0), canvas.right))  # a wheel turn over the right view
    wheel = QWheelEvent(pos, QPointF(canvas.native.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(canvas.native, wheel)
    qtbot.wait(20)
    assert right.rect.size[0] < 0.95 * width  # it zoomed in...
    assert tuple(left.rect.pos) == pytest.approx(tuple(right.rect.pos))  # ...and the left view with it
    assert tuple(left.rect.size) == pytest.approx(tuple(right.rect.size))
    offsets = [canvas.to_canvas(p, canvas.right) - canvas.to_canvas(p, canvas.left) for p in ((40.0, 30.0),
                                                                                             (200.0, 220.0))]
    assert np.allclose(offsets[0], offsets[1], atol=0.5)  # every plane point sits at one offset: same zoom and pan
