"""Calibration (paper Algorithm 2): valid partitions from garbage, exact round trips of real partitions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.calibrate import calibrate
from gpstoken.errors import GPSTokenError
from gpstoken.tokens import MX, MY, g_init_from_regions, normalize_regions

GOLDEN = Path(__file__).parent / "golden" / "partitions.json"


def region_set(regions: np.ndarray) -> set[tuple[int, ...]]:
    return set(map(tuple, np.asarray(regions).tolist()))


def assert_valid_partition(regions: np.ndarray, size: tuple[int, int], tokens: int, min_size: int = 8) -> None:
    h, w = size
    r = np.asarray(regions)
    assert r.shape == (tokens, 4)
    assert (r[:, :2] >= 0).all() and (r[:, 2] < w).all() and (r[:, 3] < h).all()
    assert (r[:, 2] - r[:, 0] + 1 >= min_size).all() and (r[:, 3] - r[:, 1] + 1 >= min_size).all()
    cover = np.zeros((h, w), dtype=np.int64)
    for x0, y0, x1, y1 in r:
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == 1).all(), "regions overlap or leave a gap"


def random_halving(rng: np.random.Generator, size: tuple[int, int], tokens: int, min_size: int = 8) -> np.ndarray:
    """A partition made like the reference's: halve a random splittable region, random direction on squares."""
    h, w = size
    boxes = [(0, w, 0, h)]  # half-open x0, x1, y0, y1
    while len(boxes) < tokens:
        candidates = [i for i, b in enumerate(boxes) if max(b[1] - b[0], b[3] - b[2]) >= 2 * min_size]
        x0, x1, y0, y1 = boxes.pop(candidates[rng.integers(len(candidates))])
        bw, bh = x1 - x0, y1 - y0
        if bw > bh or (bw == bh and rng.random() < 0.5):
            boxes += [(x0, x0 + bw // 2, y0, y1), (x0 + bw // 2, x1, y0, y1)]
        else:
            boxes += [(x0, x1, y0, y0 + bh // 2), (x0, x1, y0 + bh // 2, y1)]
    return np.array([(x0, y0, x1 - 1, y1 - 1) for x0, x1, y0, y1 in boxes], dtype=np.int64)


def golden_tiles() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(case name, tile-local regions [N,4], g_init [N,5]) for every tile of every golden case."""
    cases = json.loads(GOLDEN.read_text())
    tile = cases["tile"]
    out = []
    for case in cases["cases"]:
        n = case["tokens_per_tile"]
        regions = np.array(case["regions"], dtype=np.int64).reshape(-1, n, 4)
        g_init = np.array(case["g_init"], dtype=np.float32).reshape(-1, n, 5)
        for t in range(len(regions)):
            offset = regions[t].min(axis=0)[:2] // tile * tile
            local = regions[t] - np.concatenate([offset, offset])
            out.append((f"{case['image']}-{n}-tile{t}", local, g_init[t]))
    return out


GOLDEN_TILES = golden_tiles()


@pytest.mark.parametrize("name,regions,g_init", GOLDEN_TILES, ids=[t[0] for t in GOLDEN_TILES])
def test_reference_partitions_calibrate_to_themselves(name, regions, g_init):
    cal = calibrate(g_init)
    assert region_set(cal.regions) == region_set(regions)
    assert_valid_partition(cal.regions, (256, 256), len(regions))


def test_reference_partitions_calibrate_as_one_batch():
    cases = json.loads(GOLDEN.read_text())["cases"]
    case = next(c for c in cases if c["image"] == "rocket512.png" and c["tokens_per_tile"] == 128)
    g_init = np.array(case["g_init"], dtype=np.float32).reshape(4, 128, 5)
    cal = calibrate(g_init)
    assert cal.regions.shape == (4, 128, 4) and cal.g_init.shape == (4, 128, 5)
    for t, (name, regions, _) in enumerate(t for t in GOLDEN_TILES if t[0].startswith("rocket512.png-128")):
        assert region_set(cal.regions[t]) == region_set(regions), name


def test_snapped_means_of_a_real_partition_are_its_centres():
    _, regions, g_init = GOLDEN_TILES[0]
    cal = calibrate(g_init)
    np.testing.assert_allclose(cal.snapped_means, g_init[:, [MX, MY]], atol=1e-6)
    assert cal.dropped == 0


@pytest.mark.parametrize("size,min_size", [((256, 256), 8), ((128, 256), 8), ((512, 128), 8), ((256, 256), 4),
                                           ((200, 136), 8), ((96, 300), 6)])
def test_random_halving_partitions_round_trip(size, min_size):
    rng = np.random.default_rng(sum(size) + min_size)
    probe = calibrate(np.zeros((1, 5)), tokens=1, size=size, min_size=min_size)
    assert probe.regions.tolist() == [[0, 0, size[1] - 1, size[0] - 1]]
    for _ in range(40):
        tokens = int(rng.integers(1, 160))  # every size here allows at least 256 regions
        regions = random_halving(rng, size, tokens, min_size)
        cal = calibrate(g_init_from_regions(regions, size), size=size, min_size=min_size)
        assert region_set(cal.regions) == region_set(regions)
        assert_valid_partition(cal.regions, size, tokens, min_size)


def test_full_refinement_at_the_token_limit_is_the_8px_grid():
    cal = calibrate(np.zeros((1024, 5)))
    assert (cal.regions[:, 2] - cal.regions[:, 0] == 7).all() and (cal.regions[:, 3] - cal.regions[:, 1] == 7).all()
    assert_valid_partition(cal.regions, (256, 256), 1024)


@pytest.mark.parametrize("seed", range(60))
def test_garbage_predictions_always_give_a_valid_partition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 2, 3, 7, 64, 128, 256, 1024])) if seed % 3 else int(rng.integers(1, 1025))
    kind = seed % 6
    g = rng.normal(0, 0.5, size=(n, 5)) * rng.choice([0.1, 1, 10])
    if kind == 1:
        g[rng.random(n) < 0.3] = np.nan
        g[rng.random(n) < 0.1, MX] = np.inf
    elif kind == 2:
        g[:] = g[0]  # all duplicates
    elif kind == 3:
        g[:, MX:MY + 1] = rng.choice([-1, 1], size=(n, 2)) * rng.uniform(1.01, 50, size=(n, 2))  # all outside
    elif kind == 4:
        g[:] = np.nan
    elif kind == 5:
        g[:, :2] = -np.abs(g[:, :2])  # negative sigmas do not matter
    cal = calibrate(g.astype(np.float32))
    assert_valid_partition(cal.regions, (256, 256), n)
    assert cal.g_init.dtype == np.float32 and cal.g_init.shape == (n, 5)
    np.testing.assert_array_equal(cal.g_init, g_init_from_regions(cal.regions))
    assert (cal.g_init[:, 2] == 0).all()
    assert cal.dropped == int((~np.isfinite(g[:, MX:MY + 1]).all(axis=1)).sum())
    again = calibrate(cal.g_init)
    np.testing.assert_array_equal(again.regions, cal.regions)  # idempotent, order included


def test_explicit_token_count_differs_from_the_number_of_predictions():
    rng = np.random.default_rng(5)
    cal = calibrate(rng.uniform(-1, 1, size=(300, 5)), tokens=40)
    assert_valid_partition(cal.regions, (256, 256), 40)
    assert cal.snapped_means.shape == (300, 2)


def test_splits_follow_the_means():
    g = np.zeros((16, 5))
    g[:, MX], g[:, MY] = 0.8, 0.8  # all in the bottom-right corner
    cal = calibrate(g, tokens=8)
    assert_valid_partition(cal.regions, (256, 256), 8)
    smallest = cal.regions[np.argmin((cal.regions[:, 2] - cal.regions[:, 0]) * (cal.regions[:, 3] - cal.regions[:, 1]))]
    assert smallest[2] >= 128 and smallest[3] >= 128


def test_ties_split_x_first_then_the_earlier_region():
    cal = calibrate(np.full((3, 5), np.nan))
    assert cal.dropped == 3 and np.isnan(cal.snapped_means).all()
    assert cal.regions.tolist() == [[0, 0, 127, 127], [128, 0, 255, 255], [0, 128, 127, 255]]


def test_a_mean_on_the_vertical_centre_line_splits_a_square_along_y():
    on_line = g_init_from_regions(np.array([[0, 0, 255, 127], [0, 128, 255, 255]]))
    assert calibrate(on_line).regions.tolist() == [[0, 0, 255, 127], [0, 128, 255, 255]]
    off_line = g_init_from_regions(np.array([[0, 0, 127, 255], [128, 0, 255, 255]]))
    assert calibrate(off_line).regions.tolist() == [[0, 0, 127, 255], [128, 0, 255, 255]]


def test_means_snap_to_the_nearest_possible_region_centre():
    px = np.array([-5.0, 0.0, 3.4, 5.5, 5.6, 127.5, 300.0])  # pixel coordinates on a 256 axis
    g = np.zeros((len(px), 5))
    g[:, MX] = 2 * px / 255 - 1
    snapped_px = (calibrate(g).snapped_means[:, 0] + 1) * 255 / 2
    np.testing.assert_allclose(snapped_px, [3.5, 3.5, 3.5, 3.5, 7.5, 127.5, 251.5], atol=1e-4)


def test_perturbed_real_layouts_stay_close():
    rng = np.random.default_rng(11)
    kept = []
    for _name, regions, g_init in GOLDEN_TILES:
        noisy = g_init.copy()
        noisy[:, MX:MY + 1] += 0.3 * g_init[:, :2] * rng.normal(size=(len(g_init), 2))
        cal = calibrate(noisy)
        assert_valid_partition(cal.regions, (256, 256), len(regions))
        kept.append(len(region_set(cal.regions) & region_set(regions)) / len(regions))
    # measured ~0.9 on average; squares whose y-split children lose the centre line go to x
    assert np.mean(kept) > 0.8 and min(kept) > 0.5


def test_batches_and_tensors():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(3, 50, 5)).astype(np.float32)
    cal = calibrate(torch.from_numpy(g), size=(128, 256))
    assert cal.regions.shape == (3, 50, 4) and cal.snapped_means.shape == (3, 50, 2)
    for t in range(3):
        assert_valid_partition(cal.regions[t], (128, 256), 50)
        np.testing.assert_array_equal(cal.regions[t], calibrate(g[t], size=(128, 256)).regions)
    np.testing.assert_allclose(cal.regions_normalized(), normalize_regions(cal.regions, (128, 256)))


@pytest.mark.parametrize("kwargs,message", [
    (dict(g_pred=np.zeros((10, 5)), tokens=1025), "tokens must be an integer in 1..1024"),
    (dict(g_pred=np.zeros((10, 5)), tokens=0), "tokens must be"),
    (dict(g_pred=np.zeros((10, 5)), tokens=65, size=(64, 64)), "1..64"),
    (dict(g_pred=np.zeros((2000, 5))), "1..1024"),
    (dict(g_pred=np.zeros((10, 4))), "shape"),
    (dict(g_pred=np.zeros((0, 5))), "shape"),
    (dict(g_pred=np.zeros(5)), "shape"),
    (dict(g_pred=np.zeros((10, 5)), size=(4, 256)), "smaller than the minimum region side"),
    (dict(g_pred=np.zeros((10, 5)), min_size=0), "min_size"),
    (dict(g_pred=[["a"] * 5]), "numeric"),
])
def test_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(GPSTokenError, match=message):
        calibrate(**kwargs)


@pytest.mark.parametrize("image,tokens", [("camera.png", 100), ("rocket512.png", 77), ("chelsea.png", 256)])
def test_engine_partitions_calibrate_to_themselves(image, tokens):
    partition = pytest.importorskip("gpstoken.partition").partition
    from gpstoken.io.images import load_image

    part = partition(load_image(Path(__file__).parent / "golden" / image), tokens)
    rows, cols = part.tile_grid
    tile = part.tile
    regions = np.asarray(part.regions).reshape(rows * cols, tokens, 4)
    cal = calibrate(np.asarray(part.g_init).reshape(rows * cols, tokens, 5), size=(tile, tile))
    for t in range(rows * cols):
        offset = np.array([t % cols, t // cols] * 2) * tile
        assert region_set(cal.regions[t]) == region_set(regions[t] - offset)
