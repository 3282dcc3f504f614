"""The Training dock end to end: command preview, a real micro run started, stopped, resumed and extended
from the panel, a crashing run, attaching to a run folder, and opening its model in the editor."""
import json
import os
import shlex
import sys

import pytest
import torch
from PySide6.QtCore import QPoint, QRect, QSettings, Qt

from gpstoken.train.runner import training_command
from gpstoken_studio.model.training_form import RunHistory, ema
from gpstoken_studio.testing import make_studio  # noqa: F401
from gpstoken_studio.widgets.training_panel import TrainingPanel
from train_helpers import make_images

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]
torch.set_num_threads(1)
WAIT_MS = 120_000


@pytest.fixture(autouse=True)
def own_qsettings(qapp, tmp_path):
    """The panel remembers its last run folder in QSettings: keep it inside this test."""
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "qsettings"))
    yield


def test_command_preview_equals_the_form_and_the_runner_command(qtbot, tmp_path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.preset.setCurrentText("micro")
    panel.data.setText(str(tmp_path / "my data"))
    panel.steps.setValue(7)
    panel.batch.setValue(3)
    panel.lr.setValue(0.0005)
    panel.out.setText(str(tmp_path / "run"))
    panel.device.setCurrentText("cpu")
    expected = training_command(tmp_path / "run", "micro", str(tmp_path / "my data"),
                                ["--steps", "7", "--batch", "3", "--lr", "0.0005", "--device", "cpu"])
    assert shlex.split(panel.preview.text()) == expected
    assert expected[:3] == [sys.executable, "-m", "gpstoken.cli"]
    panel.yaml.setText(str(tmp_path / "cfg.yaml"))  # a YAML replaces the preset, live
    assert shlex.split(panel.preview.text())[expected.index("micro")] == str(tmp_path / "cfg.yaml")


def test_history_folds_rows_and_drops_rows_a_resume_rewrites():
    h = RunHistory()
    for step in (1, 2, 3):
        h.add({"source": "metrics", "step": step, "rec_loss": float(step), "img_per_s": 4.0, "time": step * 0.5})
    h.add({"source": "metrics", "step": 2, "split": "heldout", "psnr": 12.5, "ssim": 0.3})
    h.add({"source": "events", "event": "started", "step": 1, "steps": 11})
    h.add({"source": "metrics", "step": 2, "rec_loss": 9.0, "time": 2.0})  # resumed from step 1
    assert h.steps == [1, 2] and h.losses == [1.0, 9.0] and h.psnr == [(2, 12.5)]
    assert h.status == "started" and h.steps_per_s() == pytest.approx(1 / 1.5) and h.eta_s() == pytest.approx(13.5)
    assert ema([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])


def _wait_status(qtbot, panel, status):
    qtbot.waitUntil(lambda: panel.history.status == status and not panel.timer.isActive(), timeout=WAIT_MS)


def test_a_micro_run_from_the_panel_stops_resumes_extends_and_opens_in_the_editor(make_studio, qtbot, tmp_path):
    data = make_images(tmp_path / "data")
    out = tmp_path / "run"
    win = make_studio(image=None)
    win.actions_registry.trigger("training")
    panel = win.training
    try:
        panel.preset.setCurrentText("micro")
        panel.data.setText(str(data))
        panel.steps.setValue(1_000_000)
        panel.out.setText(str(out))
        panel.heldout.setText("1")
        qtbot.waitUntil(lambda: panel.split.text() == "3 training + 1 held-out (the last 1 of Data)")
        qtbot.mouseClick(panel.start_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: len(panel.history.steps) >= 3 and panel.raw_curve.getData()[0] is not None,
                        timeout=WAIT_MS)
        assert [p.split("/")[-1] for p in json.loads((out / "run.json").read_text())["heldout_images"]] == ["img3.png"]
        assert len(panel.loss_curve.getData()[0]) == len(panel.history.steps)
        assert not panel.start_button.isEnabled()
        assert os.getsid(panel.run.pid) == panel.run.pid  # its own session: closing the editor leaves it running

        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
        _wait_status(qtbot, panel, "stopped")
        stopped = panel.history.step
        assert (out / "checkpoints" / "latest.pt").is_file() and panel.status.text().startswith("Run stopped")
        assert panel.psnr_points.data.size > 0 and panel.models.count() >= 2
        assert panel._sample is not None and not panel.sample.pixmap().isNull()  # the newest sample grid

        panel.extend_steps.setValue(5)
        qtbot.mouseClick(panel.extend_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: panel.history.step > stopped, timeout=WAIT_MS)
        assert panel.history.total_steps == 1_000_005
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
        _wait_status(qtbot, panel, "stopped")
        extended = panel.history.step

        qtbot.mouseClick(panel.resume_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: panel.history.step > extended, timeout=WAIT_MS)
        qtbot.mouseClick(panel.stop_button, Qt.LeftButton)
        _wait_status(qtbot, panel, "stopped")
        assert panel.history.steps == sorted(set(panel.history.steps))
    finally:
        if panel.run is not None and panel.run.running:
            panel.run.stop(60)

    # A new window's panel re-attaches to the last run folder and replays its whole history.
    again = make_studio(image=None)
    attached = again.show_training()
    assert attached.run.out == out and not attached.run.running
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert attached.history.steps == [r["step"] for r in rows if "split" not in r]
    assert attached.status.text().startswith("Run stopped")

    checkpoint = attached.models.findItems("latest.pt", Qt.MatchExactly)[0]
    attached.models.itemDoubleClicked.emit(checkpoint)  # a training checkpoint opens too (its EMA weights)
    assert again.pipeline.engine.name == "model"
    assert again.pipeline.engine.checkpoint == str(out / "checkpoints" / "latest.pt")
    item = attached.models.item(0)
    assert item.text() == "model.safetensors"
    qtbot.waitUntil(lambda: attached.models.visualItemRect(item).height() > 0)
    center = attached.models.visualItemRect(item).center()
    qtbot.mouseClick(attached.models.viewport(), Qt.LeftButton, pos=center)  # Qt 6 double-clicks after a press
    qtbot.mouseDClick(attached.models.viewport(), Qt.LeftButton, pos=center)
    assert again.pipeline.engine.name == "model" and again.pipeline.engine.checkpoint == str(out / "model.safetensors")
    assert again.toolbar.engine.currentText() == "model"


def test_a_crashing_run_shows_its_exit_status_and_log(qtbot, tmp_path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.preset.setCurrentText("micro")
    panel.data.setText(str(tmp_path / "missing"))
    panel.out.setText(str(tmp_path / "run"))
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=WAIT_MS)
    assert "exit status 2" in panel.status.text()
    assert panel.log.isVisibleTo(panel) and "missing" in panel.log.toPlainText()
    assert panel.start_button.isEnabled()


def test_held_out_field_shows_the_split_before_start_and_reaches_the_command(qtbot, tmp_path):
    data = make_images(tmp_path / "data", count=9)
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.preset.setCurrentText("tiny")  # eval_images = 6
    panel.data.setText(str(data))
    qtbot.waitUntil(lambda: panel.split.text().startswith("8 training + 1 held-out (default"))  # not 3 + 6
    assert "--heldout" not in panel.preview.text()
    panel.heldout.setText("3")
    qtbot.waitUntil(lambda: panel.split.text() == "6 training + 3 held-out (the last 3 of Data)")
    assert shlex.split(panel.preview.text())[-2:] == ["--heldout", "3"]
    panel.heldout.setText("0")
    qtbot.waitUntil(lambda: panel.split.text().startswith("9 training, none held out"))
    panel.heldout.setText("9")
    qtbot.waitUntil(lambda: "leaves none to train on" in panel.split.text())
    held = make_images(tmp_path / "held", count=2)
    panel.heldout.setText(str(held))
    qtbot.waitUntil(lambda: panel.split.text() == "9 training + 2 held-out (from held)")
    panel.data.setText(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: "no such data folder" in panel.split.text())


def _fake_run(out, steps, evaluated) -> None:
    """A run folder with loss rows at ``steps`` and held-out rows at ``evaluated``, as a trainer writes them."""
    out.mkdir()
    rows = [{"step": s, "rec_loss": 1.0 / s, "time": float(s)} for s in steps]
    rows += [{"step": s, "split": "heldout", "psnr": 10.0 + s / 100, "ssim": 0.5} for s in evaluated]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "events.jsonl").write_text(json.dumps({"event": "stopped", "step": steps[-1], "steps": steps[-1]}) + "\n")


def test_the_plot_keeps_the_whole_run_in_view_after_held_out_evaluations(qtbot, tmp_path):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(420, 1000)
    panel.show()
    qtbot.waitExposed(panel)
    _fake_run(tmp_path / "run", list(range(10, 1001, 10)), [500])
    assert panel.attach(tmp_path / "run")
    qtbot.wait(300)  # the views autorange when they are drawn
    with open(tmp_path / "run" / "metrics.jsonl", "a") as fh:  # the final evaluation comes after the last loss row
        fh.write(json.dumps({"step": 1000, "split": "heldout", "psnr": 20.0, "ssim": 0.6}) + "\n")
    panel.poll()
    qtbot.wait(300)
    (x0, x1), _ = panel.plot.getViewBox().viewRange()
    assert x0 <= 10 and x1 >= 1000  # the evaluations at 500 and 1000 do not narrow it to [500, 1000]
    ys = panel.psnr_view.viewRange()[1]
    assert ys[0] <= 15.0 and ys[1] >= 20.0  # the PSNR axis fits the evaluated points


def test_the_plot_is_resizable_starts_at_a_sensible_height_and_comes_into_view(make_studio, qtbot, tmp_path):
    win = make_studio(image=None)
    win.resize(1500, 900)
    qtbot.waitUntil(lambda: win.size().toTuple() == (1500, 900))
    panel = win.show_training()
    assert panel.settings.isVisible()  # no run yet: the form
    _fake_run(tmp_path / "run", list(range(10, 101, 10)), [100])
    assert panel.attach(tmp_path / "run")
    qtbot.wait(300)
    assert not panel.settings.isVisible()  # following a run folds the form away: the plot comes up in the tab
    viewport = win.training_dock.widget().viewport()  # the dock scrolls the panel
    shown = QRect(panel.plot.mapTo(viewport, QPoint(0, 0)), panel.plot.size()).intersected(viewport.rect())
    assert panel.plot.height() >= 200 and shown.top() < 0.6 * viewport.height() and shown.height() >= 80
    panel.settings_toggle.click()
    assert panel.settings.isVisible()
    assert panel.splitter.widget(0) is panel.plot  # its handle resizes the plot
    total = sum(panel.splitter.sizes())
    panel.splitter.setSizes([total - 150, 150])
    qtbot.waitUntil(lambda: panel.plot.height() > 200 + 50)
