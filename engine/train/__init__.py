"""Training: the tokenizer training loop, its data, losses, checkpoints, and a subprocess runner."""
from __future__ import annotations

from .config import TRAIN_PRESETS, TrainConfig, load_train_config
from .trainer import RunSpec, Trainer, train_tokenizer

__all__ = ["TrainConfig", "TRAIN_PRESETS", "load_train_config", "RunSpec", "Trainer", "train_tokenizer"]
