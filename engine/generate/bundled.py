"""Where the bundled generators live: ``assets/models/{layout,texture}_tiny.safetensors`` of the repository."""
from __future__ import annotations

from pathlib import Path

from ..errors import CheckpointError

MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"
BUNDLED = {"layout": MODELS_DIR / "layout_tiny.safetensors", "texture": MODELS_DIR / "texture_tiny.safetensors"}


def bundled_generator(kind: str) -> Path:
    """The bundled ``layout`` or ``texture`` generator file, or a one-line CheckpointError."""
    path = BUNDLED[kind]
    if not path.is_file():
        raise CheckpointError(f"no bundled {kind} generator at {path}: pass --{kind}-model CKPT")
    return path
