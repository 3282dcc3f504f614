"""Undo restores only what its step changed; the undo depth is the documented ``undo_depth`` setting."""
from pathlib import Path

import pytest
import torch

from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image
from gpstoken_studio.model import Document, Settings, commands

GOLDEN = Path(__file__).parent / "golden"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def camera():
    return load_image(GOLDEN / "camera.png")


def new_doc(camera, **settings) -> Document:
    d = Document(camera, Settings(tokens_per_tile=32, **settings))
    d.reset_layout(d.partition())
    return d


@pytest.mark.parametrize("change", [lambda d: commands.set_token_count(d, 48),
                                    lambda d: commands.set_lambda(d, 1.5)], ids=["token_count", "lambda"])
def test_undoing_a_partition_setting_keeps_later_engine_step_and_brush_changes(camera, change):
    doc = new_doc(camera)
    before = doc.settings
    doc.history.push(change(doc))
    changed = doc.settings
    doc.update_settings(engine="model", fit_steps=7, brush_radius=30.0, brush_strength=0.5)
    doc.history.undo()
    s = doc.settings
    assert (s.tokens_per_tile, s.lam) == (before.tokens_per_tile, before.lam)
    assert (s.engine, s.fit_steps, s.brush_radius, s.brush_strength) == ("model", 7, 30.0, 0.5)
    doc.history.redo()
    assert (doc.settings.tokens_per_tile, doc.settings.lam) == (changed.tokens_per_tile, changed.lam)
    assert doc.settings.engine == "model" and doc.settings.fit_steps == 7


def test_undoing_lambda_keeps_a_later_token_count(camera):
    doc = new_doc(camera)
    doc.history.push(commands.set_lambda(doc, 1.5))
    doc.history.push(commands.set_token_count(doc, 48))
    doc.history.undo()
    assert (doc.settings.tokens_per_tile, doc.settings.lam) == (32, 1.5)
    doc.history.undo()
    assert (doc.settings.tokens_per_tile, doc.settings.lam) == (32, 2.5)


def test_previewed_token_counts_undo_to_the_gesture_start(camera):
    doc = new_doc(camera)
    for n in (40, 44):
        doc.request_relayout("Token count", settings={"tokens_per_tile": n}, preview=True)
    doc.request_relayout("Token count", settings={"tokens_per_tile": 48})
    doc.update_settings(fit_steps=9)
    assert len(doc.history) == 1
    doc.history.undo()
    assert doc.settings.tokens_per_tile == 32 and doc.settings.fit_steps == 9


def test_history_keeps_undo_depth_steps_and_drops_the_oldest(camera):
    doc = new_doc(camera, undo_depth=3)
    for i in range(5):
        doc.history.push(commands.delete_tokens(doc, [i]))
    assert len(doc.history) == 3
    while doc.history.undo():
        pass
    assert doc.layout.deleted()[:5].tolist() == [True, True, False, False, False]


def test_undo_depth_is_validated_and_defaults_to_200():
    assert Settings().undo_depth == 200
    with pytest.raises(GPSTokenError, match="undo_depth"):
        Settings(undo_depth=0)
