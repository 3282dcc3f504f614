"""The Generate panel in the real window: sketch, calibrate, sample a layout, generate with the bundled and
with official-format generators, stage, accept, undo, lock and regenerate."""
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gpstoken.generate.bundled import bundled_generator
from gpstoken.generate.checkpoint import read_generator_config
from gpstoken.generate import calibrated_layout
from gpstoken.generate.layout_cache import cached_layout, load_layout_cache
from gpstoken.io.images import load_image
from gpstoken.partition import Partitioner
from gpstoken_studio.model import commands
from gpstoken_studio.model.layout import LOCK_FEATURES
from gpstoken_studio.testing import GOLDEN, canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]
torch.set_num_threads(1)


def finish(panel, qtbot, timeout_ms: int = 120_000) -> None:
    """Wait for the panel's job to end and the window's pipeline to settle."""
    qtbot.waitUntil(lambda: panel.job is None, timeout=timeout_ms)
    wait_idle(panel.window)


def sketch_three(win, qtbot) -> None:
    """Three Gaussians drawn with the Add tool by real mouse drags."""
    win.set_mode(Mode.ADD)
    for a, b in (((30, 30), (110, 90)), ((140, 40), (230, 120)), ((60, 150), (200, 230))):
        drag(qtbot, win.canvas.native, canvas_point(win, a), canvas_point(win, b))
    assert len(win.document.layout) == 3


def test_sketch_calibrate_generate_accept_and_undo(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    assert doc.sketch and doc.image_size == (256, 256) and len(doc.layout) == 0
    assert win.canvas.left_title.text.startswith("Sketch")
    wait_idle(win)
    assert doc.result is None  # nothing runs on a blank canvas
    sketch_three(win, qtbot)

    assert panel.calibrate()
    finish(panel, qtbot)
    live = doc.layout.live()
    assert len(live) == 128 and panel.staging.ghost_count == 3 and panel.staging.ghost.visible
    regions = doc.layout.regions()
    area = ((regions[:, 2] - regions[:, 0] + 1) * (regions[:, 3] - regions[:, 1] + 1)).sum()
    assert area == 256 * 256  # a partition: the regions tile the canvas
    doc.history.undo()
    assert len(doc.layout) == 3
    doc.history.redo()
    calibrated = doc.layout.state()

    panel.count.setValue(2)
    shown = []
    panel.scheduler.partial.connect(lambda job, v: shown.append(type(v).__name__))
    steps = len(doc.history)
    assert panel.generate()
    assert len(doc.history) == steps  # a calibrated layout needs no calibration step
    finish(panel, qtbot)
    assert shown.count("Candidate") == 2 and "Preview" in shown
    assert panel.strip.count() == 2 and panel.staging.image.visible
    a, b = panel.candidates
    assert a.seed + 1 == b.seed and not np.array_equal(a.image, b.image)
    assert np.array_equal(a.layout.regions, calibrated.regions)

    assert panel.accept(0)
    assert np.array_equal(doc.image, a.image) and not doc.sketch
    assert win.canvas.left_title.text.startswith("Original")
    assert win.pipeline.engine.name == "model" and panel.strip.count() == 1
    assert not panel.staging.image.visible
    wait_idle(win)
    assert doc.result is not None and doc.result.features == "latent" and doc.result.path == "full"
    assert doc.result.metrics["psnr"] > 20  # the tokenizer re-encodes what it decoded
    doc.history.undo()
    assert doc.sketch and (doc.image == 128).all() and doc.layout.state().equals(calibrated)
    wait_idle(win)
    assert doc.result is None
    doc.history.redo()
    assert np.array_equal(doc.image, a.image)


def test_sampled_layout_replaces_the_layout_with_the_raw_sample_as_ghost(make_studio, qtbot):
    win = make_studio(image=None)
    panel = win.show_generate()
    doc = panel.new_blank()
    panel.layout_seed.setValue(7)
    panel.sample_layout()
    finish(panel, qtbot)
    assert len(doc.layout) == 128 and panel.staging.ghost_count == 128
    first = doc.layout.state()
    doc.history.undo()
    assert len(doc.layout) == 0
    panel.sample_layout()
    finish(panel, qtbot)
    assert doc.layout.state().equals(first)  # same seed, same layout


def test_locked_tokens_are_kept_exactly_when_regenerating(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png")
    panel = win.show_generate()
    doc = panel.new_from_image()
    assert not doc.sketch and doc.image_size == (256, 256)
    wait_idle(win)
    panel.count.setValue(1)
    assert panel.generate()
    finish(panel, qtbot)
    assert panel.accept(0)
    wait_idle(win)
    rows = np.flatnonzero(doc.plane.centers(doc.layout.geometry())[:, 0] < 128)  # the left half
    doc.layout.select(rows)
    win.lock(LOCK_FEATURES, True)
    wait_idle(win)
    tokens = doc.result.tokens_by_row(len(doc.layout))
    panel.keep.setChecked(True)
    panel.seed.setValue(11)
    assert panel.generate()
    finish(panel, qtbot)
    cand = panel.candidates[-1]
    order = {tuple(r): i for i, r in enumerate(doc.layout.regions())}
    gen_rows = np.array([order[tuple(r)] for r in cand.layout.regions])
    kept = np.isin(gen_rows, rows)
    assert kept.sum() == len(rows)
    assert np.array_equal(cand.tokens[kept], tokens[gen_rows[kept]])
    assert not np.allclose(cand.tokens[~kept, 5:], tokens[gen_rows[~kept], 5:], atol=1e-3)


def test_official_generator_files_load_with_their_yaml_and_bad_files_change_nothing(make_studio, qtbot, tmp_path):
    cfg = read_generator_config(bundled_generator("texture"))
    official = tmp_path / "texture-official.safetensors"
    save_file(load_file(bundled_generator("texture")), official)  # ema_model.* keys, no config inside
    yaml = tmp_path / "texture-official.yaml"
    yaml.write_text(json.dumps({  # JSON is YAML
        "model": {"name": "SiT-custom-gs", "latent_size": cfg.tokens, "num_classes": cfg.num_classes,
                  "in_channels": cfg.in_channels, "hidden_size": cfg.hidden_size, "depth": cfg.depth,
                  "num_heads": cfg.num_heads, "patch_size": 1, "learn_sigma": False, "cond_channels": 5},
        "pretrained_gpstoken_means": list(cfg.means), "pretrained_gpstoken_stds": list(cfg.stds)}))
    win = make_studio(image=None)
    panel = win.show_generate()
    assert not panel.load_models(str(official))  # no config: one line, the bundled models stay
    assert "YAML" in panel.status.text() and panel.generators.texture_path == bundled_generator("texture")
    cache = tmp_path / "initg.pickle"  # the official release's stage 1: per-class cached layouts
    layouts = [Partitioner(load_image(GOLDEN / name)).partition(128).g_init for name in ("camera.png", "coffee.png")]
    cache.write_bytes(pickle.dumps({0: layouts}))
    assert panel.load_models(str(official), str(yaml), str(cache))
    assert panel.generators.texture_path == official
    doc = panel.new_blank()
    panel.layout_seed.setValue(5)
    panel.sample_layout()
    finish(panel, qtbot)
    drawn = cached_layout(load_layout_cache(cache), 0, np.random.default_rng(5))
    assert {tuple(r) for r in doc.layout.regions()} == {tuple(r) for r in calibrated_layout(drawn).regions}
    panel.count.setValue(1)
    panel.sampler.setCurrentText("euler")
    panel.steps.setValue(8)
    assert panel.generate()
    finish(panel, qtbot)
    assert len(panel.candidates) == 1 and panel.candidates[0].image.shape == (256, 256, 3)


def test_edits_stay_live_during_a_generation_and_cancel_stops_it(make_studio, qtbot):
    win = make_studio(GOLDEN / "rocket512.png")
    panel = win.show_generate()
    assert not panel.generate() and "one 256x256 tile" in panel.status.text()
    doc = panel.new_from_image()
    wait_idle(win)
    panel.sampler.setCurrentText("sde")
    panel.steps.setValue(1000)
    panel.count.setValue(4)
    assert panel.generate()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=60_000)
    doc.history.push(commands.move_tokens(doc, doc.layout.rows([0]), [0], np.array([3.0, 2.0])))
    wait_idle(win)  # the pipeline has its own worker: the edit is reconstructed while generation runs
    assert panel.job is not None and doc.result.revision == doc.revision
    panel.cancel_job()
    finish(panel, qtbot)
    assert panel.status.text() == "Cancelled" and len(panel.candidates) < 4
