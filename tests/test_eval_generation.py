"""The measures of benchmarks/eval_generation.py: Frechet distance and nearest-training-image distance."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import eval_generation as E  # noqa: E402


def test_frechet_distance_is_zero_for_one_set_and_the_squared_mean_shift_for_a_shifted_copy():
    a = np.random.default_rng(0).normal(size=(500, 4))
    assert abs(E.frechet_distance(a, a)) < 1e-6
    shift = np.array([3.0, 0.0, -1.0, 0.0])
    assert np.isclose(E.frechet_distance(a, a + shift), (shift ** 2).sum(), atol=1e-6)


def test_nearest_distance_finds_the_closest_training_image_in_8_bit_levels():
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    query = train[[3, 7]].astype(np.int16)
    query[1] += 10  # every level 10 higher: RMSE 10
    query = np.clip(query, 0, 255).astype(np.uint8)
    d = E.nearest_distance(query, train)
    assert d[0] == 0.0
    exact = np.sqrt(((query[1].astype(np.float64) - train[7]) ** 2).mean())
    assert np.isclose(d[1], exact, atol=1e-3) and d[1] <= 10.0
