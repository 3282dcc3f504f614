"""The bundled emoji model set: class names, ``gpstoken generate --models emoji``, and sketch -> calibrate
-> generate in the editor with it."""
import json

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.generate.model_sets import bundled_set_names, load_model_set
from gpstoken.io.images import load_image
from gpstoken.train.emoji_data import GROUPS
from gpstoken_studio.testing import canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

torch.set_num_threads(1)
# head, eyes, mouth (x0, y0, x1, y1): the eyes on 8x8 regions of the halving, as docs/face_demo.py
FACE = ((10, 10, 54, 54), (16, 16, 24, 24), (40, 16, 48, 24), (16, 40, 48, 48))


def test_the_emoji_set_is_bundled_with_the_nine_groups():
    assert "emoji" in bundled_set_names()
    models = load_model_set("emoji")
    assert models.classes == GROUPS and models.class_index("animals & nature") == 2


def test_cli_generates_emoji_of_a_named_class(tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--models", "emoji", "--class", "Animals & Nature", "--num", "2", "--out", str(out),
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images"] == 2
    images = [load_image(out / f"00000{i}.png") for i in range(2)]
    assert all(im.shape == (64, 64, 3) for im in images) and not np.array_equal(*images)
    assert main(["generate", "--models", "emoji", "--class", "Dinosaurs", "--out", str(tmp_path / "x"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown class 'Dinosaurs'" in err and "8 'Flags'" in err and len(err.splitlines()) == 1


@pytest.mark.gui
@pytest.mark.timeout(300)
def test_sketch_a_face_calibrate_and_generate_with_the_emoji_set(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    assert panel.use_set("emoji")
    panel.label.setCurrentIndex(0)
    assert panel.label.currentText() == "Smileys & Emotion"
    doc = panel.new_blank()
    assert doc.image_size == (64, 64)
    win.set_mode(Mode.ADD)
    for x0, y0, x1, y1 in FACE:
        drag(qtbot, win.canvas.native, canvas_point(win, (x0, y0)), canvas_point(win, (x1, y1)))
    assert len(doc.layout) == 4
    assert panel.calibrate()
    qtbot.waitUntil(lambda: panel.job is None, timeout=120_000)
    wait_idle(win)
    assert len(doc.layout.live()) == 64 and panel.staging.ghost_count == 4
    panel.count.setValue(1)
    assert panel.generate()
    qtbot.waitUntil(lambda: panel.job is None, timeout=120_000)
    wait_idle(win)
    assert len(panel.candidates) == 1
    image = panel.candidates[0].image
    assert image.shape == (64, 64, 3) and image.std() > 10  # content, not a flat tile
