"""Options the small-tile emoji models train with: extract --min-size/--flip, layout --min-crop."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.generate.data import square_image
from gpstoken.generate.train import GenTrainConfig
from gpstoken.io.tokenfile import TokenSet
from gpstoken.models import GPSTokenizer, save_tokenizer
from gpstoken.train.config import TRAIN_PRESETS

GOLDEN = Path(__file__).parent / "golden"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def micro_tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "micro.safetensors"
    torch.manual_seed(0)
    save_tokenizer(GPSTokenizer(TRAIN_PRESETS["micro"].model_config).eval(), path)  # 32-px tiles, 16 tokens
    return path


def _sides(ts: TokenSet) -> set[int]:
    from gpstoken.models.token_files import partition_from_token_set

    regions = partition_from_token_set(ts, ts.image_size, ts.tile).regions
    return set((regions[:, 2] - regions[:, 0] + 1).tolist()) | set((regions[:, 3] - regions[:, 1] + 1).tolist())


def test_extract_min_size_and_flip(micro_tokenizer, tmp_path, capsys):
    data = tmp_path / "images" / "cats"
    data.mkdir(parents=True)
    (data / "chelsea.png").write_bytes((GOLDEN / "chelsea.png").read_bytes())
    base = ["extract", "--model", str(micro_tokenizer), "--data", str(tmp_path / "images"), "--size", "32", "--quiet"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "fine"), "--min-size", "4", "--flip"]) == 0
    plain = json.loads((tmp_path / "plain" / "index.json").read_text())
    fine = json.loads((tmp_path / "fine" / "index.json").read_text())
    assert plain["files"] == ["cats__chelsea.npz"]
    assert fine["files"] == ["cats__chelsea.npz", "cats__chelsea__flip.npz"] and fine["labels"] == [0, 0]
    assert _sides(TokenSet.load(tmp_path / "plain" / plain["files"][0])) == {8}  # 16 regions of 8 px: a grid
    assert min(_sides(TokenSet.load(tmp_path / "fine" / fine["files"][0]))) == 4
    assert main([*base, "--out", str(tmp_path / "bad"), "--min-size", "0"]) == 2
    assert "--min-size must be >= 1" in capsys.readouterr().err


def test_min_crop_one_keeps_the_whole_image_and_is_validated():
    image = np.arange(40 * 40 * 3, dtype=np.uint8).reshape(40, 40, 3)
    out = square_image(image, 40, np.random.default_rng(0), min_crop=1.0)
    assert np.array_equal(out, image) or np.array_equal(out, image[:, ::-1])
    with pytest.raises(GPSTokenError, match="min_crop must be in"):
        GenTrainConfig(min_crop=0.0)


def test_emoji_presets_share_a_64_px_tile():
    from gpstoken.generate.config import preset as generator_preset

    train = TRAIN_PRESETS["emoji"]
    assert train.model_config.tile_size == 64 and train.model_config.gps_num == 64
    small = train.train_model_config()  # 32-px crops: same tokens per pixel, a 16x16 render grid
    assert small.gps_num == 16 and small.tile_size == 32
    for name in ("layout-emoji", "texture-emoji"):
        cfg = generator_preset(name)
        assert (cfg.tile, cfg.tokens, cfg.min_size, cfg.num_classes) == (64, 64, 4, 9)
