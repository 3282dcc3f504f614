"""The entropy partition: golden reference output, bias maps, re-partitioning, sizes and errors."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken import entropy
from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image
from gpstoken.partition import Partition, Partitioner, max_partition_regions, partition
from gpstoken.tokens import g_init_from_regions, normalize_regions
from partition_reference import complexity, reference_partition

GOLDEN = Path(__file__).parent / "golden"
CASES = json.loads((GOLDEN / "partitions.json").read_text())["cases"]

torch.set_num_threads(1)


def image(name: str) -> np.ndarray:
    return load_image(GOLDEN / name)


def blob_bias(h: int, w: int, cy: float, cx: float, radius: float, value: float) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return value * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))


def coverage(p: Partition) -> np.ndarray:
    """How many regions cover each pixel of the padded canvas."""
    rows, cols = p.tile_grid
    th, tw = p.tile_hw
    count = np.zeros((rows * th, cols * tw), dtype=np.int64)
    for x0, y0, x1, y1 in p.regions:
        count[y0:y1 + 1, x0:x1 + 1] += 1
    return count


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['image']}-{c['tokens_per_tile']}")
def test_golden_partition_matches_reference_output_in_order(case):
    p = partition(image(case["image"]), case["tokens_per_tile"], lam=case["lambda"], min_size=case["min_size"])
    np.testing.assert_array_equal(p.regions, np.array(case["regions"]))
    np.testing.assert_array_equal(p.g_init, np.array(case["g_init"], dtype=np.float32))
    assert p.g_init.dtype == np.float32 and p.regions.dtype == np.int64


def test_region_metrics_equal_the_straightforward_reference_bit_for_bit():
    rng = np.random.default_rng(7)
    for name in ("astronaut.png", "camera.png", "ramp.png", "rocket512.png"):
        img = image(name)
        unit = entropy.unit_luma(img)
        x = (img / 127.5 - 1.0).astype(np.float32)
        luma = 0.299 * x[:, :, 0] + 0.587 * x[:, :, 1] + 0.114 * x[:, :, 2]
        np.testing.assert_array_equal(unit, (luma + 1.0) / 2.0)
        boxes = []
        for _ in range(150):
            h, w = (int(v) for v in rng.integers(1, 160, 2))
            boxes.append((int(rng.integers(0, img.shape[0] - h + 1)), int(rng.integers(0, img.shape[1] - w + 1)), h, w))
        ours = entropy.region_metrics([unit[y:y + h, x:x + w] for y, x, h, w in boxes], 2.5)
        ref = [complexity(luma[y:y + h, x:x + w], 2.5) for y, x, h, w in boxes]
        assert ours == ref


def test_region_metrics_handle_magnitudes_above_the_histogram_range():
    # luma in [0, 1] keeps |Sobel| <= sqrt(20) < 5.5; a 0/2 pattern drops values, as np.histogram does
    yy, xx = np.mgrid[0:48, 0:40]
    unit = np.where((xx + yy) % 5 < 2, 0.0, 2.0).astype(np.float32)
    crops = [unit, unit[3:20, 5:12], unit[:9, :9]]
    assert entropy.region_metrics(crops, 2.5) == [complexity(2.0 * c - 1.0, 2.5) for c in crops]


def test_histogram_bins_match_numpy_on_exact_bin_edges():
    # numpy's edges are exact multiples of 11/512, which the kernel's binning relies on
    np.testing.assert_array_equal(np.linspace(-5.5, 5.5, 513), (np.arange(513) * 11 - 2816) / 512)
    # a ramp of slope s has |Sobel| = 8s inside and 4s at the side columns: put both on bin edges
    x = np.arange(64, dtype=np.float32)
    ramps = [np.tile(np.float32(j * 11 / 4096) * x, (64, 1)) for j in (2, 14, 100, 254, 256)]
    ramps += [np.nextafter(r, np.float32(9)) for r in ramps[:2]]
    assert entropy.region_metrics(ramps, 2.5) == [complexity(2 * r - 1, 2.5) for r in ramps]


@pytest.mark.parametrize(
    "name, tokens, bias_kind",
    [
        ("astronaut.png", 128, "blob"),
        ("coffee.png", 64, "negative"),
        ("chelsea.png", 96, "random-int"),
        ("flat.png", 64, "painted-rectangle"),
        ("rocket512.png", 48, "blob"),
    ],
)
def test_bias_partition_equals_reference_region_list(name, tokens, bias_kind):
    img = image(name)
    h, w = img.shape[:2]
    rng = np.random.default_rng(3)
    bias = {
        "blob": lambda: blob_bias(h, w, 0.3 * h, 0.6 * w, 0.1 * min(h, w), 80.0),
        "negative": lambda: -blob_bias(h, w, 0.5 * h, 0.5 * w, 0.2 * min(h, w), 40.0),
        "random-int": lambda: rng.integers(-20, 60, (h, w)).astype(np.float64),
        # a brush value that is not a binary fraction: equal areas must tie exactly, as in the reference
        "painted-rectangle": lambda: np.pad(np.full((100, 120), 128 / 255 * 100), ((40, h - 140), (70, w - 190))),
    }[bias_kind]()
    ours = partition(img, tokens, bias=bias)
    np.testing.assert_array_equal(ours.regions, reference_partition(img, tokens, bias=bias))
    assert not np.array_equal(ours.regions, partition(img, tokens).regions)


def test_partitioner_repeated_calls_equal_fresh_partitions():
    img = image("camera.png")
    p = Partitioner(img)
    blob = blob_bias(256, 256, 60, 190, 30, 100.0)
    for n, bias in [(128, None), (64, blob), (200, blob), (128, -blob), (32, None), (128, blob)]:
        got = p.partition(n, bias=bias)
        want = partition(img, n, bias=bias)
        np.testing.assert_array_equal(got.regions, want.regions)
        np.testing.assert_array_equal(got.g_init, want.g_init)


def test_partitioner_reuses_measured_regions(monkeypatch):
    p = Partitioner(image("coffee.png"))
    p.partition(128)
    calls = []
    module = sys.modules["gpstoken.partition"]
    monkeypatch.setattr(module, "region_metrics", lambda crops, lam: calls.append(len(crops)))
    p.partition(100)
    p.partition(128, bias=np.zeros((256, 256)))
    assert calls == []


def test_tile0_partitions_the_whole_image_as_one_tree():
    img = image("rocket512.png")[50:350, 100:300]  # 300x200, not square
    p = partition(img, 40, tile=0)
    assert p.tile == 0 and p.tile_grid == (1, 1) and p.tile_hw == (300, 200)
    np.testing.assert_array_equal(p.regions, reference_partition(img, 40, tile=0))
    np.testing.assert_array_equal(p.g_init, g_init_from_regions(p.regions, (300, 200)))
    assert np.all(coverage(p) == 1)


@pytest.mark.parametrize("size, grid", [((300, 200), (2, 1)), ((40, 30), (1, 1)), ((256, 300), (1, 2))])
def test_non_multiple_sizes_cover_the_padded_canvas_exactly_once(size, grid):
    img = np.ascontiguousarray(image("rocket512.png")[: size[0], : size[1]])
    p = partition(img, 32)
    assert p.tile_grid == grid and p.image_size == size
    assert p.regions.shape == (grid[0] * grid[1] * 32, 4)
    assert np.all(coverage(p) == 1)
    np.testing.assert_array_equal(p.regions, reference_partition(img, 32))
    bias = np.ones(size)
    np.testing.assert_array_equal(partition(img, 32, bias=bias).regions, reference_partition(img, 32, bias=bias))


def test_constant_image_gives_32x16_regions_at_128_tokens():
    p = partition(np.full((256, 256, 3), 90, dtype=np.uint8), 128)
    sides = np.stack([p.regions[:, 2] - p.regions[:, 0] + 1, p.regions[:, 3] - p.regions[:, 1] + 1], axis=1)
    assert np.all(sides == [32, 16])
    assert np.all(coverage(p) == 1)


def test_maximum_count_splits_every_region_to_the_minimum_size():
    assert max_partition_regions(256, 256, 8) == 1024
    assert max_partition_regions(256, 256, 4) == 4096
    assert max_partition_regions(9, 9, 8) == 1
    assert max_partition_regions(300, 200, 8) == max_partition_regions(200, 300, 8)
    p = partition(image("camera.png"), 1024)
    assert np.all(p.regions[:, 2:] - p.regions[:, :2] == 7)


@pytest.mark.parametrize("count", [0, -3, 1025, 2.5, "many"])
def test_bad_token_counts_raise_one_line_errors_with_the_allowed_range(count):
    with pytest.raises(GPSTokenError) as err:
        partition(image("flat.png"), count)
    assert "1..1024" in str(err.value) and "\n" not in str(err.value)


def test_count_range_follows_tile_and_min_size():
    with pytest.raises(GPSTokenError, match=r"1\.\.1 for 9x9"):
        partition(np.zeros((9, 9, 3), np.uint8), 2, tile=0)
    assert partition(np.zeros((64, 64, 3), np.uint8), 256, min_size=4, tile=0).regions.shape == (256, 4)


@pytest.mark.parametrize(
    "bias, message",
    [
        (np.zeros((256, 255)), "256x255, expected the image size 256x256"),
        (np.zeros((256, 256, 1)), "256x256x1"),
        (np.full((256, 256), np.nan), "NaN or infinite"),
        (np.where(np.eye(256) > 0, np.inf, 0.0), "NaN or infinite"),
        (np.full((256, 256), 1e12), "too large"),
        (np.zeros((256, 256), dtype=bool), "real numbers"),
    ],
)
def test_bad_bias_maps_raise(bias, message):
    with pytest.raises(GPSTokenError, match=message):
        Partitioner(image("flat.png")).partition(16, bias=bias)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((32, 32), np.uint8), np.zeros((32, 32, 4), np.uint8), np.zeros((32, 32, 3)),
     np.zeros((0, 5, 3), np.uint8), [[[0, 0, 0]]]],
)
def test_bad_images_raise(bad):
    with pytest.raises(GPSTokenError):
        partition(bad, 4)


@pytest.mark.parametrize("kwargs", [{"lam": float("nan")}, {"lam": -1}, {"min_size": 0}, {"tile": -256}, {"tile": 2.5}])
def test_bad_settings_raise(kwargs):
    with pytest.raises(GPSTokenError):
        partition(image("flat.png"), 4, **kwargs)


def test_partition_views_and_json():
    img = image("rocket512.png")
    p = partition(img, 64)
    local = p.regions_local()
    assert local.shape == (4, 64, 4) and local.min() == 0 and local.max() == 255
    np.testing.assert_array_equal(local[3] + [256, 256, 256, 256], p.regions[192:])
    np.testing.assert_array_equal(p.regions_normalized(), normalize_regions(local))
    np.testing.assert_array_equal(p.g_init.reshape(4, 64, 5), g_init_from_regions(local))
    doc = p.to_json()
    assert set(doc) == {"width", "height", "tile", "tokens_per_tile", "regions", "g_init"}
    assert (doc["width"], doc["height"], doc["tile"], doc["tokens_per_tile"]) == (512, 512, 256, 64)
    assert np.array_equal(np.array(doc["regions"]), p.regions)
    assert np.array_equal(np.array(doc["g_init"], dtype=np.float32), p.g_init)
    json.dumps(doc)


def test_package_level_partition_is_callable_after_the_submodule_import():
    import gpstoken.partition  # noqa: F401  (binds the package attribute to the submodule)

    p = gpstoken.partition(image("flat.png"), 8)
    assert isinstance(p, gpstoken.Partition) and p.regions.shape == (8, 4)
