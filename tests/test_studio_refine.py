"""The editor's Refine (model engine): runs on the worker, shows intermediate results, keeps locks exactly,
is one undo step; stopping it keeps the best state shown; it refuses with a reason when it cannot run."""
import numpy as np
import pytest
import torch

from gpstoken_studio.model import commands
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.testing import GOLDEN, make_studio, wait_idle  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.timeout(300)]
torch.set_num_threads(1)
MODEL = GOLDEN / "official_tiny_a.safetensors"
CONFIG = GOLDEN / "official_tiny_a.yaml"


def model_studio(make_studio, steps: int):
    # paths as the command line gives them (a Path checkpoint breaks the rate record's command text: reported)
    return make_studio(GOLDEN / "astronaut.png", tokens=32, steps=steps, model=str(MODEL), config=str(CONFIG),
                       engine="model", precision="fp32")


def lock(doc, rows, bits):
    doc.history.push(commands.set_locks(doc, np.asarray(rows), bits, True))


def test_refine_shows_progress_keeps_locks_and_is_one_undo_step(make_studio, qtbot):
    win = model_studio(make_studio, steps=6)
    doc = win.document
    lock(doc, [0, 1, 2], LOCK_GEOMETRY)
    lock(doc, [2, 3, 4], LOCK_FEATURES)
    wait_idle(win)
    before, depth = doc.result, len(doc.history)
    shown = []
    doc.events.result.connect(shown.append)
    win.qactions["studio:refine"].trigger()
    wait_idle(win, timeout=120)
    after = doc.result
    assert any(r is not None and r.partial for r in shown)  # intermediate states were shown
    assert after is shown[-1] and not after.partial and after.engine == "model"
    assert after.metrics["psnr"] > before.metrics["psnr"]
    assert np.array_equal(after.tokens[[0, 1, 2], :5], before.tokens[[0, 1, 2], :5])
    assert np.array_equal(after.tokens[[2, 3, 4], 5:], before.tokens[[2, 3, 4], 5:])
    assert not np.array_equal(after.tokens[5:], before.tokens[5:])
    assert len(doc.history) == depth + 1 and doc.history.undo_name == "Refine"
    win.actions_registry.trigger("undo")
    assert doc.result is before
    win.actions_registry.trigger("redo")
    assert doc.result is after
    assert win.pipeline.idle  # undo and redo swap results without running the engine


def test_refine_again_stops_it_and_keeps_the_best_state_shown(make_studio, qtbot):
    win = model_studio(make_studio, steps=500)
    doc = win.document
    before = doc.result
    shown = []
    doc.events.result.connect(shown.append)
    win.qactions["studio:refine"].trigger()
    qtbot.waitUntil(lambda: len(shown) >= 2, timeout=120_000)  # the start, then a first improvement
    win.qactions["studio:refine"].trigger()
    wait_idle(win, timeout=120)
    partials = [r for r in shown if r is not None and r.partial]
    assert doc.result is not before and not doc.result.partial
    assert np.array_equal(doc.result.tokens, partials[-1].tokens)
    assert doc.history.undo_name == "Refine"


def test_refine_refuses_with_a_reason(make_studio, qtbot):
    win = model_studio(make_studio, steps=3)
    doc = win.document
    said = []
    win.pipeline.message.connect(said.append)
    lock(doc, doc.layout.live(), LOCK_GEOMETRY | LOCK_FEATURES)
    before, depth = doc.result, len(doc.history)
    win.qactions["studio:refine"].trigger()
    assert said[-1] == "Refine: every token is locked: nothing to refine"
    assert win.pipeline.idle and doc.result is before and len(doc.history) == depth
    win.set_engine("fit")
    wait_idle(win)
    win.qactions["studio:refine"].trigger()
    assert "switch the engine to model" in said[-1]
