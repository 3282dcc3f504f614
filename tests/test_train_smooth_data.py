"""Synthetic smooth training images: every kind is smooth, seeded, and written with a list file."""
import numpy as np
import pytest

from gpstoken.io.images import load_image
from gpstoken.train.smooth_data import KINDS, build_smooth_data, smooth_image


@pytest.mark.parametrize("kind", KINDS)
def test_smooth_images_have_no_edges(kind):
    image = smooth_image(np.random.default_rng(1), 64, kind).astype(np.float32)
    assert image.shape == (64, 64, 3)
    # neighbouring pixels differ by at most a few levels: no edge a tokenizer could hide an artefact in
    assert np.abs(np.diff(image, axis=0)).max() <= 16 and np.abs(np.diff(image, axis=1)).max() <= 16
    if kind == "flat":
        assert np.ptp(image.reshape(-1, 3), axis=0).max() == 0


def test_build_writes_the_images_and_their_list_reproducibly(tmp_path):
    paths = build_smooth_data(tmp_path / "a", count=8, size=32, seed=3)
    again = build_smooth_data(tmp_path / "b", count=8, size=32, seed=3)
    assert (tmp_path / "a" / "train.txt").read_text().split() == paths
    assert [p.split("/")[-1] for p in paths][:4] == [f"{k}_{i:04d}.png" for i, k in enumerate(KINDS)]
    for p, q in zip(paths, again):
        assert np.array_equal(load_image(p), load_image(q))
    assert not np.array_equal(load_image(paths[0]), load_image(paths[4]))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown smooth image kind"):
        smooth_image(np.random.default_rng(0), 8, "noise")
