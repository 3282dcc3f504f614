"""The .npz token file: round trip and validation of malformed files."""
import numpy as np
import pytest

from gpstoken.errors import TokenFileError
from gpstoken.io.tokenfile import TokenSet


def example(tiles=(1, 2), n=4, c=3) -> TokenSet:
    t = tiles[0] * tiles[1]
    g = np.tile(np.array([0.1, 0.2, 0.3, -0.5, 0.5], np.float32), (t, n, 1))
    r = np.tile(np.array([-1, -1, 0, 0], np.float32), (t, n, 1))
    tok = np.concatenate([g, np.ones((t, n, c), np.float32)], axis=-1)
    return TokenSet(g, r, tiles, (200, 500), tokens=tok, features="rgb")


def test_round_trip_keeps_every_array(tmp_path):
    ts = example()
    ts.save(tmp_path / "t.npz")
    back = TokenSet.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.tokens, ts.tokens)
    np.testing.assert_array_equal(back.g_init, ts.g_init)
    np.testing.assert_array_equal(back.regions, ts.regions)
    assert (back.tile_grid, back.image_size, back.features, back.tile) == ((1, 2), (200, 500), "rgb", 256)
    assert back.feature_channels == 3 and back.tokens_per_tile == 4


def test_init_only_file_has_no_tokens(tmp_path):
    ts = example()
    np.savez(tmp_path / "i.npz", g_init=ts.g_init, regions=ts.regions, tile_grid=[1, 2], image_size=[200, 500])
    back = TokenSet.load(tmp_path / "i.npz")
    assert back.tokens is None and back.features == "latent"


def save_modified(tmp_path, **changes):
    ts = example()
    arrays = dict(g_init=ts.g_init, regions=ts.regions, tokens=ts.tokens, tile_grid=[1, 2], image_size=[200, 500])
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(tmp_path / "m.npz", **arrays)
    return tmp_path / "m.npz"


@pytest.mark.parametrize("changes, message", [
    (dict(g_init=None), "missing array 'g_init'"),
    (dict(tile_grid=[2, 2]), "g_init must be"),
    (dict(regions=np.zeros((2, 3, 4), np.float32)), "regions must be"),
    (dict(tokens=np.zeros((2, 4, 5), np.float32)), "tokens must be"),
    (dict(g_init=np.full((2, 4, 5), np.nan, np.float32)), "NaN"),
    (dict(g_init=np.tile(np.array([0.1, -0.2, 0, 0, 0], np.float32), (2, 4, 1))), "sigma"),
    (dict(regions=np.full((2, 4, 4), 3.0, np.float32)), "outside"),
    (dict(image_size=[900, 500]), "does not cover"),
])
def test_malformed_files_give_one_line_errors(tmp_path, changes, message):
    with pytest.raises(TokenFileError, match=message) as info:
        TokenSet.load(save_modified(tmp_path, **changes))
    assert "\n" not in str(info.value) and "m.npz" in str(info.value)


def test_truncated_and_foreign_files_are_rejected(tmp_path):
    example().save(tmp_path / "t.npz")
    data = (tmp_path / "t.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(data[:100])
    with pytest.raises(TokenFileError, match="not a readable"):
        TokenSet.load(tmp_path / "t.npz")
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(TokenFileError, match="not a readable"):
        TokenSet.load(tmp_path / "x.npz")
    with pytest.raises(TokenFileError, match="no such token file"):
        TokenSet.load(tmp_path / "missing.npz")
