"""Engines by name: "fit" (always available) and "model" (a tokenizer checkpoint)."""
from __future__ import annotations

from pathlib import Path

from gpstoken.errors import GPSTokenError


def engine_names(model_available: bool) -> tuple[str, ...]:
    return ("fit", "model") if model_available else ("fit",)


def create_engine(name: str, model: str | Path | None = None, config: str | Path | None = None,
                  precision: str = "auto"):
    """Build the engine ``name``; "model" needs a checkpoint (``model``, optional YAML ``config``) and runs
    at ``precision`` (auto, fp32 or bf16)."""
    if name == "fit":
        from gpstoken_studio.engines.fit_engine import FitEngine

        return FitEngine()
    if name == "model":
        if model is None:
            raise GPSTokenError("the model engine needs a checkpoint: pass --model CKPT")
        from gpstoken_studio.engines.model_engine import ModelEngine

        return ModelEngine(model, config, precision)
    raise GPSTokenError(f"unknown engine {name!r}; choose fit or model")
