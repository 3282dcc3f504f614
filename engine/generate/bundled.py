"""Where the bundled generators live: ``models/{layout,texture}_tiny.safetensors`` of the package data."""
from __future__ import annotations

from pathlib import Path

from ..bundled_files import bundled_file
from ..errors import CheckpointError

MODELS_DIR = bundled_file("models")
BUNDLED = {"layout": MODELS_DIR / "layout_tiny.safetensors", "texture": MODELS_DIR / "texture_tiny.safetensors"}


def bundled_generator(kind: str) -> Path:
    """The bundled ``layout`` or ``texture`` generator file, or a one-line CheckpointError."""
    path = BUNDLED[kind]
    if not path.is_file():
        raise CheckpointError(f"no bundled {kind} generator at {path}: pass --{kind}-model CKPT")
    return path
