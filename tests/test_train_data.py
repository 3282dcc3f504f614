"""Training data: image lists, unreadable files, the step-indexed sampler, augmented items, configs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gpstoken.errors import GPSTokenError
from gpstoken.train import TRAIN_PRESETS, TrainConfig, load_train_config
from gpstoken.train.data import StepBatches, TokenizerDataset, initial_layout, list_images, split_heldout
from train_helpers import make_images

torch.set_num_threads(1)


def test_folder_and_list_file_give_the_same_readable_images(tmp_path):
    make_images(tmp_path / "d")
    (tmp_path / "d" / "broken.png").write_bytes(b"not an image")
    listed = list_images(tmp_path / "d")
    assert len(listed.paths) == 4 and listed.skipped == 1
    (tmp_path / "list.txt").write_text("# comment\nd/img0.png\nd/img1.png\nd/missing.png\n")
    from_list = list_images(tmp_path / "list.txt")
    assert [p.split("/")[-1] for p in from_list.paths] == ["img0.png", "img1.png"] and from_list.skipped == 1


def test_no_readable_images_is_a_clear_error(tmp_path):
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(GPSTokenError, match="no readable images"):
        list_images(tmp_path)
    with pytest.raises(GPSTokenError, match="no such data"):
        list_images(tmp_path / "nowhere")


def test_step_batches_are_a_function_of_the_step_and_ranks_split_the_global_batch():
    one = StepBatches(size=10, batch=4, start=0, stop=6, seed=3)
    again = StepBatches(size=10, batch=4, start=3, stop=6, seed=3)
    assert list(one)[3:] == list(again)
    ranks = [StepBatches(size=10, batch=2, start=0, stop=6, seed=3, rank=r, world=2) for r in (0, 1)]
    for step in range(6):
        joined = ranks[0].batch_for(step) + ranks[1].batch_for(step)
        assert joined == one.batch_for(step)
    # every image appears once per epoch (10 images, 4 per step: steps 0..4 cover two epochs)
    first_epoch = [i for s in range(5) for i, _ in one.batch_for(s)][:10]
    assert sorted(first_epoch) == list(range(10))


@pytest.mark.parametrize("init", ["adaptive", "grid"])
def test_items_are_crops_in_range_with_n_valid_gaussians(tmp_path, init):
    paths = list_images(make_images(tmp_path)).paths
    ds = TokenizerDataset(paths, crop=32, tokens=16, resize=40, init=init, min_size=4)
    item = ds[(1, 1234)]
    assert item["image"].shape == (3, 32, 32) and item["image"].min() >= -1 and item["image"].max() <= 1
    assert item["g_init"].shape == (16, 5) and item["regions"].shape == (16, 4)
    assert torch.all(item["regions"] >= -1) and torch.all(item["regions"] <= 1)
    assert torch.equal(ds[(1, 1234)]["image"], item["image"])  # the seed fixes crop and flip


def test_grid_init_is_the_same_for_every_image():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(2))
    ga, _ = initial_layout(a, 20, "grid", 2.5, 8)
    gb, _ = initial_layout(b, 20, "grid", 2.5, 8)
    assert ga.shape == (20, 5) and np.array_equal(ga, gb)
    assert not np.array_equal(initial_layout(a, 20, "adaptive", 2.5, 8)[0], initial_layout(b, 20, "adaptive", 2.5, 8)[0])


def test_small_crops_train_the_same_weights_at_proportional_token_density():
    from gpstoken.models import GPSTokenizer

    cfg = TRAIN_PRESETS["tiny"]
    small = cfg.train_model_config()
    assert (small.gps_rs, small.gps_num) == ((32, 32), 32)
    with torch.device("meta"):
        a, b = GPSTokenizer(cfg.model_config).state_dict(), GPSTokenizer(small).state_dict()
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}


def test_yaml_config_overrides_a_preset_and_bad_fields_are_errors(tmp_path):
    (tmp_path / "c.yaml").write_text("preset: micro\ntrain:\n  lr: 0.01\n  batch: 3\n")
    cfg = load_train_config(tmp_path / "c.yaml")
    assert (cfg.lr, cfg.batch, cfg.model) == (0.01, 3, TRAIN_PRESETS["micro"].model)
    (tmp_path / "bad.yaml").write_text("preset: micro\ntrain:\n  speed: 3\n")
    with pytest.raises(GPSTokenError, match="unknown field 'speed'"):
        load_train_config(tmp_path / "bad.yaml")
    with pytest.raises(GPSTokenError, match="crop"):
        TrainConfig(model=TRAIN_PRESETS["micro"].model, crop=64)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_a_runs_config_json_loads_with_every_training_setting(tmp_path):
    # A run directory's config.json (the resolved config) is a valid --config for a new run, edits included.
    cfg = TRAIN_PRESETS["micro"].replace(lr=0.02, steps=7, crop=16, seed=5)
    doc = cfg.to_dict()
    doc["model"]["decoder_padding"] = "zeros"
    (tmp_path / "config.json").write_text(json.dumps(doc))
    loaded = load_train_config(tmp_path / "config.json")
    assert loaded == cfg.replace(model=doc["model"])
    assert loaded.model_config.decoder_padding == "zeros"


def test_worker_processes_give_the_same_batches_as_the_main_process(tmp_path):
    from gpstoken.train.data import make_loader

    paths = list_images(make_images(tmp_path)).paths
    ds = TokenizerDataset(paths, crop=32, tokens=16, resize=40, min_size=4)
    batches = [list(make_loader(ds, StepBatches(len(paths), 2, 0, 3, seed=5), workers=w)) for w in (0, 2)]
    for a, b in zip(*batches):
        assert all(torch.equal(a[k], b[k]) for k in ("image", "g_init", "regions"))


def test_bundled_set_is_deterministic_and_keeps_heldout_images_out_of_training():
    from gpstoken.train import bundled_data as bd

    a, b = bd.render_procedural(7, 64), bd.render_procedural(7, 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not set(bd.REAL_TRAIN) & set(bd.REAL_HELDOUT)
    assert all((bd.skimage_data_dir() / name).is_file() for name in bd.REAL_TRAIN + bd.REAL_HELDOUT)


def test_held_out_split_default_count_and_folder(tmp_path):
    paths = tuple(f"img{i}.png" for i in range(9))
    train, held = split_heldout(paths, None, eval_images=6)
    assert train == paths[:8] and held == paths[8:]  # a fifth (at least one), not 6 of 9
    assert split_heldout(paths * 10, None, eval_images=6)[1] == (paths * 10)[84:]  # at most eval_images
    assert split_heldout(paths, "3", eval_images=6) == (paths[:6], paths[6:])
    assert split_heldout(paths, 0, eval_images=6) == (paths, paths[:1])  # none held out: a training image is scored
    assert split_heldout(paths[:1], None, eval_images=6) == (paths[:1], paths[:1])
    assert split_heldout(paths[:2], None, eval_images=6) == (paths[:1], paths[1:2])
    folder = make_images(tmp_path / "held", count=2)
    train, held = split_heldout(paths, str(folder), eval_images=6)
    assert train == paths and held == list_images(folder).paths
    with pytest.raises(GPSTokenError, match="leaves none to train on"):
        split_heldout(paths, "9", eval_images=6)
    with pytest.raises(GPSTokenError, match="not a count: nowhere"):
        split_heldout(paths, "nowhere", eval_images=6)
