"""Where the default tokenizer lives: ``$GPSTOKEN_MODEL``, else the bundled ``models/default.safetensors``
(package data of ``gpstoken_assets``)."""
from __future__ import annotations

import os
from pathlib import Path

from ..bundled_files import bundled_file
from ..errors import CheckpointError

MODEL_ENV = "GPSTOKEN_MODEL"
BUNDLED_MODEL = bundled_file("models", "default.safetensors")


def default_model_path() -> Path:
    """The default checkpoint (``$GPSTOKEN_MODEL`` overrides the bundled one), or a one-line CheckpointError."""
    override = os.environ.get(MODEL_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise CheckpointError(f"${MODEL_ENV} names {path}, which is not a file")
        return path
    if not BUNDLED_MODEL.is_file():
        raise CheckpointError(f"no bundled default model at {BUNDLED_MODEL}: pass --model CKPT "
                              f"or set ${MODEL_ENV} to a checkpoint")
    return BUNDLED_MODEL
