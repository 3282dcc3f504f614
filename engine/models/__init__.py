"""Neural models: the GPSToken tokenizer (encoder, decoder), its configs and checkpoints.

Exports load lazily, so ``gpstoken.models.config`` is importable without torch (the CLI's help uses it).
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_tokenizer": "checkpoint", "save_tokenizer": "checkpoint",
    "PRESETS": "config", "TokenizerConfig": "config", "from_official_yaml": "config", "preset": "config",
    "Reconstruction": "pipeline", "decode_tokens": "pipeline", "encode_image": "pipeline", "reconstruct": "pipeline",
    "GPSTokenizer": "tokenizer",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
