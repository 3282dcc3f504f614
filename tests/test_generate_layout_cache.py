"""The official release's layout cache (initg.pickle): safe loading, drawing, and its use by `generate`."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.generate import Generator, calibrated_layout, preset, save_generator
from gpstoken.generate.layout_cache import cached_layout, load_layout_cache
from gpstoken.io.images import load_image
from gpstoken.io.tokenfile import TokenSet
from gpstoken.partition import partition
from gpstoken.tokens import regions_to_pixels

GOLDEN = Path(__file__).parent / "golden"
TOKENIZER, TOKENIZER_YAML = GOLDEN / "official_tiny_a.safetensors", GOLDEN / "official_tiny_a.yaml"
N, C = 32, 8

torch.set_num_threads(1)


def partitions(name: str, count: int, extra_columns: int = 0) -> list:
    """g_init arrays [N, 5 + extra] of real partitions (different token orders of one image)."""
    g = partition(load_image(GOLDEN / name), N).g_init[:N]
    rng = np.random.default_rng(0)
    return [np.concatenate([g[rng.permutation(N)], np.ones((N, extra_columns), np.float32)], axis=1)
            for _ in range(count)]


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "initg.pickle"
    path.write_bytes(pickle.dumps({0: partitions("camera.png", 3, extra_columns=2),
                                   2: [a.astype(np.float64) for a in partitions("astronaut.png", 2)]}))
    return path


def test_a_cache_loads_as_float32_layouts_per_class_keeping_five_columns(cache_file):
    cache = load_layout_cache(cache_file, tokens=N)
    assert sorted(cache) == [0, 2]
    assert cache[0].shape == (3, N, 5) and cache[2].shape == (2, N, 5) and cache[0].dtype == np.float32
    drawn = cached_layout(cache, 2, np.random.default_rng(5))
    assert any(np.array_equal(drawn, g) for g in cache[2])
    with pytest.raises(GPSTokenError, match="no class 1 .*0, 2"):
        cached_layout(cache, 1, np.random.default_rng(0))


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("damage", ["code", "truncated", "not_a_dict", "token_count", "nan", "ragged"])
def test_bad_caches_are_one_line_errors_and_code_never_runs(tmp_path, cache_file, damage):
    marker = tmp_path / "ran"
    good = pickle.loads(cache_file.read_bytes())
    data = {
        "code": pickle.dumps({0: [_Payload(marker)]}),
        "truncated": cache_file.read_bytes()[:200],
        "not_a_dict": pickle.dumps([np.zeros((N, 5), np.float32)]),
        "token_count": pickle.dumps({0: [np.zeros((N + 1, 5), np.float32)]}),
        "nan": pickle.dumps({0: [np.full((N, 5), np.nan, np.float32)]}),
        "ragged": pickle.dumps({0: [good[0][0], good[0][0][:, :4]]}),
    }[damage]
    path = tmp_path / "bad.pickle"
    path.write_bytes(data)
    with pytest.raises(GPSTokenError) as err:
        load_layout_cache(path, tokens=N)
    assert "\n" not in str(err.value) and not marker.exists()


def test_generate_draws_its_layouts_from_a_cache(tmp_path, cache_file, capsys):
    torch.manual_seed(0)
    stats = dict(means=tuple(np.linspace(-0.02, 0.5, 5 + C)), stds=(0.01,) * 5 + (2.0,) * C)
    texture = Generator(preset("texture-tiny").replace(in_channels=5 + C, tokens=N, depth=1, hidden_size=32, num_heads=2,
                                                       num_classes=3, **stats)).eval()
    save_generator(texture, tmp_path / "texture.safetensors")
    rc = main(["--threads", "1", "generate", "--model", str(TOKENIZER), "--config", str(TOKENIZER_YAML),
               "--texture-model", str(tmp_path / "texture.safetensors"), "--layout-model", str(cache_file),
               "--class", "2", "--num", "2", "--seed", "4", "--sampler", "euler", "--steps", "2", "--quiet",
               "--out", str(tmp_path / "g")])
    assert rc == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images"] == 2
    cache = load_layout_cache(cache_file)
    for i in range(2):
        expected = calibrated_layout(cached_layout(cache, 2, np.random.default_rng(4 + i)), N)
        got = regions_to_pixels(TokenSet.load(tmp_path / "g" / f"{i:06d}.npz").regions[0])
        assert {tuple(r) for r in got} == {tuple(r) for r in expected.regions}
