"""Sketch-aware layouts: sketched Gaussians survive calibration as tokens, the rest is filled around them."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from gpstoken.calibrate import calibrate, max_regions_keeping, min_regions_keeping
from gpstoken.errors import GPSTokenError
from gpstoken.generate import load_generator
from gpstoken.generate.bundled import bundled_generator
from gpstoken.generate.layout import canonical_order, sample_layouts
from gpstoken.generate.sketch import (
    KEPT,
    MIN_IOU,
    NO_REGION,
    NO_ROOM,
    OVERLAP,
    box_iou,
    sketch_boxes,
    sketch_layout,
    tree_regions,
)
from gpstoken.io.tokenfile import TokenSet
from gpstoken.tokens import g_init_from_regions

torch.set_num_threads(1)
SIZE = (256, 256)


def gaussians(boxes) -> np.ndarray:
    """The Gaussians the Add tool draws for ``boxes [K, 4]`` (x0, y0, x1, y1 in pixels): sigma = side / 3."""
    b = np.asarray(boxes, np.float64)
    return np.stack([(b[:, 2] - b[:, 0]) * 2 / 3 / 255, (b[:, 3] - b[:, 1]) * 2 / 3 / 255, np.zeros(len(b)),
                     (b[:, 0] + b[:, 2]) / 255 - 1, (b[:, 1] + b[:, 3]) / 255 - 1], axis=1)


def aligned_boxes() -> np.ndarray:
    """Every box the halving of a 256-px tile can make, enumerated independently of the engine: squares
    of side 2^k and 2:1 rectangles of sides 2^k x 2^(k+1), each aligned to its own sides, sides >= 8."""
    out = []
    for wk in range(3, 9):
        for hk in range(3, 9):
            if abs(wk - hk) > 1:
                continue
            w, h = 2 ** wk, 2 ** hk
            out += [(x, y, x + w - 1, y + h - 1) for x in range(0, 256, w) for y in range(0, 256, h)]
    return np.array(sorted(set(out)), np.int64)


def assert_partition(regions: np.ndarray, tokens: int = 128) -> None:
    assert regions.shape == (tokens, 4)
    cover = np.zeros(SIZE, np.int64)
    for x0, y0, x1, y1 in regions:
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == 1).all()


def overlaps(box, others) -> bool:
    o = np.asarray(others).reshape(-1, 4)
    return bool(((o[:, 0] <= box[2]) & (box[0] <= o[:, 2]) & (o[:, 1] <= box[3]) & (box[1] <= o[:, 3])).any())


def test_the_candidates_are_exactly_the_boxes_of_the_halving_tree():
    assert set(map(tuple, tree_regions(SIZE, 8).tolist())) == set(map(tuple, aligned_boxes().tolist()))


@pytest.mark.parametrize("seed", range(6))
def test_random_sketches_keep_every_representable_gaussian_with_iou_at_least_half(seed):
    rng = np.random.default_rng(seed)
    candidates = aligned_boxes()
    kept_total = 0
    for _ in range(8):
        k = int(rng.integers(1, 16))
        side = rng.uniform(10, 150, (k, 2))
        corner = rng.uniform(0, 1, (k, 2)) * (255 - side)
        boxes = np.concatenate([corner, corner + side], axis=1)
        made = sketch_layout(gaussians(boxes), 128)
        regions = made.layout.regions
        assert_partition(regions)
        assert np.allclose(made.layout.g_init, g_init_from_regions(regions))
        kept_regions = regions[made.kept[made.kept >= 0]]
        iou = box_iou(sketch_boxes(gaussians(boxes), SIZE), candidates)
        for i in range(k):
            if made.why[i] == KEPT:
                box = regions[made.kept[i]]
                own = box_iou(sketch_boxes(gaussians(boxes[i:i + 1]), SIZE), box[None])[0, 0]
                assert own >= MIN_IOU and made.iou[i] == pytest.approx(own)
                kept_total += 1
            elif made.why[i] == NO_REGION:
                assert iou[i].max() < MIN_IOU  # the halving has no box close enough
            else:  # every close enough box overlaps a token kept for another Gaussian
                assert made.why[i] == OVERLAP
                assert all(overlaps(candidates[c], kept_regions) for c in np.flatnonzero(iou[i] >= MIN_IOU))
        assert len(set(made.kept[made.kept >= 0].tolist())) == (made.kept >= 0).sum()  # one token each
    assert kept_total > 0


@pytest.mark.parametrize("seed", range(4))
def test_sketches_near_disjoint_halving_regions_survive_whole(seed):
    """Boxes jittered off disjoint regions of a random halving partition: every one becomes a token."""
    rng = np.random.default_rng(100 + seed)
    base = calibrate(rng.uniform(-1, 1, (40, 5)), tokens=40).regions
    picked = base[rng.choice(len(base), 12, replace=False)]
    side = picked[:, 2:] - picked[:, :2]
    jitter = rng.uniform(-0.06, 0.06, picked.shape) * np.concatenate([side, side], axis=1)
    boxes = picked + jitter
    made = sketch_layout(gaussians(boxes), 128)
    assert made.why == (KEPT,) * 12
    assert set(map(tuple, made.layout.regions[made.kept].tolist())) == set(map(tuple, picked.tolist()))
    assert (made.iou >= 0.75).all()


def test_a_calibrated_layout_calibrates_to_itself_without_a_fill():
    rng = np.random.default_rng(3)
    base = calibrate(rng.uniform(-1, 1, (128, 5)), tokens=128)
    made = sketch_layout(base.g_init, 128)
    assert made.fill == "none" and made.why == (KEPT,) * 128
    assert np.array_equal(made.layout.regions[made.kept], base.regions)
    other = sketch_layout(calibrate(base.g_init, tokens=64).g_init, 128)  # a whole partition keeps its own count
    assert other.fill == "none" and other.layout.tokens_per_tile == 64


def test_smaller_shapes_win_inside_a_larger_one_and_locks_go_first():
    head, eye = (0, 0, 127, 127), (32, 32, 63, 63)
    made = sketch_layout(gaussians([head, eye]), 64)
    assert made.why == (OVERLAP, KEPT)
    assert tuple(made.layout.regions[made.kept[1]]) == eye
    locked = sketch_layout(gaussians([head, eye]), 64, locked=[True, False])
    assert locked.why == (KEPT, OVERLAP)
    assert tuple(locked.layout.regions[locked.kept[0]]) == head
    with pytest.raises(GPSTokenError, match="^locked Gaussian 1 cannot be kept: it overlaps"):
        sketch_layout(gaussians([head, eye]), 64, locked=[True, True])
    with pytest.raises(GPSTokenError, match="^locked Gaussian 0 cannot be kept: it has no region"):
        sketch_layout(gaussians([(100, 100, 140, 140)]), 64, locked=[True])


def test_more_gaussians_than_tokens_keeps_the_smallest_that_fit():
    dots = [(x, y, x + 7, y + 7) for x in range(0, 256, 16) for y in range(0, 256, 16)]  # 256 regions of 8 px
    made = sketch_layout(gaussians(dots), 128)
    assert_partition(made.layout.regions)
    kept = made.kept >= 0
    assert made.why.count(NO_ROOM) == 256 - kept.sum() and kept.sum() >= 32  # an isolated dot costs ~3 regions
    kept_boxes = np.array(dots)[kept]
    assert np.array_equal(made.layout.regions[made.kept[kept]], kept_boxes)
    first_dropped = np.array(dots)[np.flatnonzero(~kept)[:1]]
    assert min_regions_keeping(SIZE, np.concatenate([kept_boxes, first_dropped])) > 128  # as many as fit, in order
    assert "did not fit the token count" in made.summary()


def test_outlines_are_dense_and_interiors_sparse_without_a_layout_model():
    circle = (48, 48, 207, 207)
    made = sketch_layout(gaussians([circle]), 128)
    assert made.fill == "density"
    r = made.layout.regions
    centre = np.stack([(r[:, 0] + r[:, 2]) / 2, (r[:, 1] + r[:, 3]) / 2], axis=1) - 127.5
    radius = np.hypot(*centre.T)
    area = (r[:, 2] - r[:, 0] + 1) * (r[:, 3] - r[:, 1] + 1)
    on_edge = np.abs(radius - 80) < 12
    assert area[on_edge].mean() * 4 < area[radius < 40].mean()
    assert area[on_edge].mean() * 4 < area[radius > 110].mean()


@pytest.mark.parametrize("sketch, message", [
    (np.zeros((0, 5), np.float32), "^the sketch has no Gaussians"),
    (np.array([[0.1, 0.1, 0.0, np.nan, 0.0]], np.float32), "^sketch: token 0 holds NaN"),
    (np.zeros((3, 4), np.float32), "^a sketch must be Gaussians"),
])
def test_bad_sketches_are_one_clear_error(sketch, message):
    with pytest.raises(GPSTokenError, match=message):
        sketch_layout(sketch, 128)


@pytest.fixture(scope="module")
def layout_model():
    return load_generator(bundled_generator("layout"))


def test_stage_one_inpainting_holds_the_kept_tokens(layout_model):
    known = calibrate(np.random.default_rng(0).uniform(-1, 1, (128, 5)), tokens=128).g_init
    known = known[canonical_order(known)]
    mask = np.zeros(128, bool)
    mask[::5] = True
    raw, _ = sample_layouts(layout_model, 0, 1, method="euler", steps=8, generator=torch.Generator().manual_seed(0),
                            keep=(known[None], mask[None]))
    assert np.allclose(raw[0][mask], known[mask], atol=1e-5)
    assert not np.allclose(raw[0][~mask], known[~mask], atol=1e-2)


def test_the_layout_model_fills_around_the_kept_tokens(layout_model):
    boxes = [(0, 0, 63, 63), (128, 128, 159, 159), (208, 32, 223, 47), (40, 150, 100, 230)]
    runs = [sketch_layout(gaussians(boxes), 128, layout_model=layout_model,
                          generator=torch.Generator().manual_seed(s), method="euler", steps=8) for s in (0, 0, 1)]
    made = runs[0]
    assert made.fill == "model"
    assert_partition(made.layout.regions)
    assert made.why[:3] == (KEPT,) * 3
    assert {tuple(made.layout.regions[k]) for k in made.kept[:3]} == set(boxes[:3])
    assert np.array_equal(runs[1].layout.regions, made.layout.regions)  # seeded
    assert not np.array_equal(runs[2].layout.regions, made.layout.regions)
    density = sketch_layout(gaussians(boxes), 128)
    assert not np.array_equal(density.layout.regions, made.layout.regions)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpstoken.cli", "--threads", "1", "generate", *args],
                          capture_output=True, text=True, timeout=600)


def test_cli_generates_on_a_sketch_with_its_gaussians_kept(tmp_path):
    boxes = [(0, 0, 63, 63), (128, 128, 159, 159), (100, 100, 140, 140)]
    np.save(tmp_path / "sketch.npy", gaussians(boxes))
    out = tmp_path / "out"
    done = run_cli("--layout", str(tmp_path / "sketch.npy"), "--sketch-fill", "density", "--out", str(out),
                   "--sampler", "euler", "--steps", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 1
    assert "kept 2 of 3 sketched Gaussians" in done.stderr
    ts = TokenSet.load(out / "000000.npz")
    expected = sketch_layout(gaussians(boxes), 128)
    assert ts.g_init.shape == (1, 128, 5) and np.allclose(ts.g_init[0], expected.layout.g_init)


@pytest.mark.parametrize("sketch, message", [
    (np.zeros((0, 5), np.float32), "the sketch has no Gaussians"),
    (np.array([[0.1, 0.1, 0.0, np.nan, 0.0]], np.float32), "sketch: token 0 holds NaN"),
])
def test_cli_bad_sketch_is_one_line_and_exit_2(tmp_path, sketch, message):
    np.save(tmp_path / "sketch.npy", sketch)
    done = run_cli("--layout", str(tmp_path / "sketch.npy"), "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_sketched_shape_as_large_as_the_tile_is_dropped_not_a_failure():
    """A head filling most of a 64-px tile matches the whole tile, which would leave room for one region only."""
    tile, tokens = 64, 64
    boxes = np.array([[6, 6, 57, 57], [16, 16, 23, 23], [40, 16, 47, 23], [16, 40, 31, 47]], np.float64)
    sketch = np.zeros((len(boxes), 5), np.float32)
    sketch[:, 0] = (boxes[:, 2] - boxes[:, 0]) / 3 * 2 / (tile - 1)  # the box is the centre +- 1.5 sigma
    sketch[:, 1] = (boxes[:, 3] - boxes[:, 1]) / 3 * 2 / (tile - 1)
    sketch[:, 3] = (boxes[:, 0] + boxes[:, 2]) / (tile - 1) - 1
    sketch[:, 4] = (boxes[:, 1] + boxes[:, 3]) / (tile - 1) - 1
    out = sketch_layout(sketch, tokens, tile=tile, min_size=4)
    assert out.layout.tokens_per_tile == tokens and out.kept[0] < 0 and (out.kept[1:] >= 0).all()
    assert (out.iou[1:] >= 0.5).all()


def test_max_regions_keeping_counts_the_full_halving_around_kept_regions():
    assert max_regions_keeping((64, 64), np.zeros((0, 4), np.int64), 4) == 256
    assert max_regions_keeping((64, 64), np.array([[0, 0, 63, 63]]), 4) == 1
    assert max_regions_keeping((64, 64), np.array([[0, 0, 31, 63]]), 4) == 1 + 128
