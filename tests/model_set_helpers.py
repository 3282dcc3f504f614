"""A micro model set (32-px tiles, 16 tokens, three named classes) written to a folder, for the model-set tests."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from gpstoken.generate import Generator, preset, save_generator
from gpstoken.generate.model_sets import STAGE_FILES
from gpstoken.models import GPSTokenizer, save_tokenizer
from gpstoken.train.config import TRAIN_PRESETS

CLASSES = ["Cats", "Dogs", "Food & Drink"]
TILE, TOKENS = 32, 16


def _generator(name: str, **changes) -> Generator:
    torch.manual_seed(0)
    model = Generator(preset(name).replace(depth=1, hidden_size=32, num_heads=2, num_classes=len(CLASSES),
                                           tokens=TOKENS, tile=TILE, min_size=4, **changes))
    with torch.no_grad():  # SiT zero-initialises its output layer
        for p in model.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.02)
    return model.eval()


def write_micro_set(folder: Path) -> Path:
    """Random-weight tokenizer (the micro training preset's model), layout and texture generators, classes.json."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokenizer = GPSTokenizer(TRAIN_PRESETS["micro"].model_config).eval()
    assert tokenizer.config.tile_size == TILE and tokenizer.config.gps_num == TOKENS
    save_tokenizer(tokenizer, folder / STAGE_FILES["tokenizer"])
    save_generator(_generator("layout-tiny"), folder / STAGE_FILES["layout"])
    channels = tokenizer.config.gps_c
    texture = _generator("texture-tiny", in_channels=5 + channels, stds=(0.01,) * 5 + (1.0,) * channels,
                         means=(0.0,) * (5 + channels))
    save_generator(texture, folder / STAGE_FILES["texture"])
    (folder / "classes.json").write_text(json.dumps(CLASSES))
    return folder
