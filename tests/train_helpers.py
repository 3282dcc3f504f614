"""Shared fixtures for the training tests: a folder of four small generated images, micro configs and
random models standing in for trained ones."""
from __future__ import annotations

from pathlib import Path

import torch
from gpstoken.io.images import save_image
from gpstoken.models import GPSTokenizer, TokenizerConfig
from gpstoken.train import TRAIN_PRESETS, RunSpec, TrainConfig
from gpstoken.train.bundled_data import render_procedural


def make_images(folder: Path, count: int = 4, size: int = 48) -> Path:
    """``count`` procedural RGB images of ``size`` px in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        save_image(folder / f"img{i}.png", render_procedural(i, size))
    return folder


def micro(**changes) -> TrainConfig:
    """The micro training preset with some fields changed."""
    return TRAIN_PRESETS["micro"].replace(**changes)


def spec(out: Path, data: Path, config: TrainConfig | None = None, **kw) -> RunSpec:
    return RunSpec(out=out, config=config if config is not None else micro(), data=str(data), **kw)


def perturbed_model(config: TokenizerConfig) -> GPSTokenizer:
    """A seeded random model with every parameter nudged off its initial value (norm gains away from 1,
    a non-zero geometry head), as a stand-in for trained weights."""
    torch.manual_seed(0)
    model = GPSTokenizer(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model
