"""GPSToken: Gaussian-parameterized spatially-adaptive image tokens (engine).

The public API is re-exported here lazily, so ``import gpstoken`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "partition": "gpstoken.partition",
    "Partitioner": "gpstoken.partition",
    "Partition": "gpstoken.partition",
    "Tiling": "gpstoken.tiling",
    "calibrate": "gpstoken.calibrate",
    "render": "gpstoken.render",
    "render_tiles": "gpstoken.render",
    "render_dense": "gpstoken.render",
    "draw_partition": "gpstoken.overlay",
    "load_bias_map": "gpstoken.io.bias_map",
    "TokenSet": "gpstoken.io.tokenfile",
    "load_image": "gpstoken.io.images",
    "GPSTokenError": "gpstoken.errors",
    "set_threads": "gpstoken.settings",
    "GPSTokenizer": "gpstoken.models",
    "TokenizerConfig": "gpstoken.models",
    "load_tokenizer": "gpstoken.models",
    "save_tokenizer": "gpstoken.models",
    "reconstruct": "gpstoken.models",
    "evaluate": "gpstoken.metrics",
    "fit": "gpstoken.fit",
    "FitOptions": "gpstoken.fit",
    "FitResult": "gpstoken.fit",
    "generate": "gpstoken.generate",
    "GenerateOptions": "gpstoken.generate",
    "Generator": "gpstoken.generate",
    "GeneratorConfig": "gpstoken.generate",
    "load_generator": "gpstoken.generate",
    "save_generator": "gpstoken.generate",
    "train_tokenizer": "gpstoken.train",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gpstoken' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
