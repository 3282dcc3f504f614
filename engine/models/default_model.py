"""Where the bundled default tokenizer lives: ``$GPSTOKEN_MODEL``, else the repository's
``assets/models/default.safetensors`` (next to the ``engine/`` folder of this package)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError

MODEL_ENV = "GPSTOKEN_MODEL"
BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "assets" / "models" / "default.safetensors"


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
