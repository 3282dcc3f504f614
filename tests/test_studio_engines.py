"""Engines in the editor: the tokenizer engine plugs in; the command line renders a screenshot."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint

from gpstoken_studio.testing import GOLDEN, canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)
ROOT = GOLDEN.parents[1]
MODEL = GOLDEN / "official_tiny_a.safetensors"
CONFIG = GOLDEN / "official_tiny_a.yaml"


def test_model_engine_encodes_like_the_reference_and_drags_with_frozen_features(make_studio, qtbot):
    win = make_studio(GOLDEN / "astronaut.png", tokens=32, model=MODEL, config=CONFIG, engine="model",
                      precision="fp32")  # the golden tokens are fp32
    doc = win.document
    assert win.pipeline.engine.name == "model" and doc.result.engine == "model"
    golden = np.load(GOLDEN / "official_tiny_a__astronaut.npz")
    assert np.abs(doc.result.tokens - golden["tokens"][0]).max() < 2e-3  # same partition, same encoder
    full = doc.result
    i = int(np.argmin(np.hypot(*(doc.plane.centers(doc.layout.geometry()) - [128, 128]).T)))
    seen = []
    doc.events.result.connect(lambda r: seen.append(r))
    win.set_mode(Mode.MOVE)
    start = canvas_point(win, doc.plane.centers(doc.layout.geometry())[i])
    drag(qtbot, win.canvas.native, start, start + QPoint(30, 0), steps=6, wait_ms=40)
    wait_idle(win, timeout=120)
    fast = [r for r in seen if r.path == "fast"]
    if fast:  # on a slow machine every fast result may be superseded before it lands
        assert np.array_equal(fast[-1].tokens[i, 5:], full.tokens[i, 5:])
    assert doc.result.path == "full" and doc.result.revision == doc.revision
    assert doc.result.metrics["psnr"] > 0


def test_switching_engines_reruns_the_full_path(make_studio, qtbot):
    win = make_studio(GOLDEN / "astronaut.png", tokens=32, steps=2, model=MODEL, config=CONFIG)
    assert win.document.result.engine == "fit"
    win.toolbar.engine.setCurrentText("model")
    wait_idle(win, timeout=120)
    assert win.document.settings.engine == "model" and win.document.result.engine == "model"
    assert win.document.result.features == "latent"


def test_command_line_screenshot(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, GPSTOKEN_STUDIO_RECOVERY_DIR=str(tmp_path / "rec"), GPSTOKEN_THREADS="1")
    cmd = [sys.executable, "-m", "gpstoken_studio.main", str(GOLDEN / "camera.png"), "--screenshot", str(out),
           "--tokens", "32", "--steps", "2"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]
    shot = np.asarray(Image.open(out).convert("RGB"))
    assert shot.shape[0] >= 600 and shot.shape[1] >= 1000
    assert shot.std() > 20  # not a blank window
    assert not (tmp_path / "rec" / "recovery.gpsproj").exists()


def test_command_line_rejects_a_model_engine_without_a_model(tmp_path):
    env = dict(os.environ, GPSTOKEN_MODEL=str(tmp_path / "missing.safetensors"))  # whether or not one is bundled
    cmd = [sys.executable, "-m", "gpstoken_studio.main", "--engine", "model", "--screenshot", str(tmp_path / "x.png"),
           str(GOLDEN / "camera.png")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "GPSTOKEN_MODEL" in done.stderr and done.stderr.count("\n") == 1


def test_model_engine_precision_auto_is_bf16_only_on_hardware_bf16_cpus(monkeypatch):
    from gpstoken import settings
    from gpstoken_studio.engines.model_engine import ModelEngine

    engine = ModelEngine(MODEL, CONFIG)
    for native, expected in ((True, "bf16"), (False, "auto")):
        monkeypatch.setattr(settings, "cpu_has_native_bf16", lambda native=native: native)
        assert engine.precision == expected
    assert ModelEngine(MODEL, CONFIG, "fp32").precision == "fp32"


def test_open_model_asks_for_the_yaml_of_an_official_file_and_switches_engine(make_studio, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from gpstoken.models.checkpoint import needs_config

    assert needs_config(MODEL) and not needs_config(ROOT / "assets" / "models" / "default.safetensors")
    picks = [(str(MODEL), ""), (str(CONFIG), "")]
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: picks.pop(0))
    win = make_studio(GOLDEN / "astronaut.png", tokens=32, steps=0)
    assert win.pipeline.engine.name == "fit"
    win.qactions["studio:open_model"].trigger()
    assert not picks and win.pipeline.engine.name == "model" and win.config_path == str(CONFIG)
    wait_idle(win)
    assert win.document.result.engine == "model" and win.document.result.features == "latent"
