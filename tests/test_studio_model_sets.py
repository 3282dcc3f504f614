"""The Generate panel's model sets: a set brings its own tokenizer and class names."""
import pytest
import torch

from gpstoken.generate.model_sets import STAGE_FILES, load_model_set
from gpstoken_studio.testing import make_studio, wait_idle  # noqa: F401
from gpstoken_studio.session import generation
from model_set_helpers import CLASSES, TILE, write_micro_set

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)


def test_a_model_set_brings_its_tokenizer_and_class_names(make_studio, qtbot, tmp_path, monkeypatch):
    folder = write_micro_set(tmp_path / "micro")
    (folder / "sampling.json").write_text('{"method": "euler", "steps": 9, "cfg_scale": 2.5}')
    monkeypatch.setattr(generation, "load_model_set",
                        lambda name: load_model_set(folder) if name == "micro" else load_model_set(name))
    win = make_studio(image=None)
    panel = win.show_generate()
    assert panel.model_set.itemText(0) == generation.TINY_SET
    assert panel.use_set("micro")
    assert [panel.label.itemText(i) for i in range(panel.label.count())] == CLASSES
    assert panel.generators.tokenizer_path == folder / STAGE_FILES["tokenizer"] and panel.generators.tile == TILE
    assert (panel.sampler.currentText(), panel.steps.value(), panel.cfg.value()) == ("euler", 9, 2.5)  # its recipe
    doc = panel.new_blank()
    assert doc.image_size == (TILE, TILE)
    assert panel.use_set(generation.TINY_SET)
    assert panel.label.itemText(0) == "unconditional" and panel.generators.tile == 256
    assert (panel.sampler.currentText(), panel.cfg.value()) == ("ode", 1.0)  # the defaults again
    assert not panel.use_set("no-such-set")
    assert "not a bundled set" in panel.status.text()
    wait_idle(win)
