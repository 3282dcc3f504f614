"""Tokenizer weights and config from a ``gpstoken train`` checkpoint (``checkpoints/*.pt``).

Such a file holds ``{"step", "model", "ema": {"shadow", "step"}, "opt", "disc", "disc_opt", "rng",
"best", "config"}``: module-key state dicts, the TrainConfig as a dict (its ``model`` entry is the
tokenizer config) and RNG states. The EMA shadow is what ``model.safetensors`` exports.
"""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError

SUFFIXES = (".pt", ".pth")
RUN_CONFIG = "config.json"


def is_training_checkpoint_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a torch checkpoint (by its suffix) rather than a safetensors file."""
    return Path(path).suffix.lower() in SUFFIXES


def read_training_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """The EMA weights (else the raw model's; module key names) and the tokenizer config dict (None when
    neither the file nor its run folder's ``config.json`` has one). Anything else: one CheckpointError line."""
    p = Path(path)
    state = safe_load(p)
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        kind = "a dict without 'model' weights" if isinstance(state, dict) else f"a {type(state).__name__}"
        raise CheckpointError(f"{p.name}: not a GPSToken training checkpoint (it holds {kind})")
    train_cfg = state.get("config") if isinstance(state.get("config"), dict) else _run_config(p)
    model_cfg = train_cfg.get("model") if isinstance(train_cfg, dict) else None
    if isinstance(model_cfg, dict) and "kind" in model_cfg:  # GeneratorConfig has a kind, TokenizerConfig not
        raise CheckpointError(f"{p.name}: this is a {model_cfg['kind']} generator checkpoint, not a tokenizer")
    ema = state.get("ema")
    if ema is None:
        weights = state["model"]
    elif isinstance(ema, dict) and isinstance(ema.get("shadow"), dict):
        weights = ema["shadow"]
    else:
        raise CheckpointError(f"{p.name}: the training checkpoint's 'ema' entry has no 'shadow' weights")
    return weights, model_cfg if isinstance(model_cfg, dict) else None


def safe_load(p: Path) -> Any:
    """``torch.load`` with ``weights_only=True``: only tensors and plain data unpickle, nothing runs. The one
    extra type allowed is a numeric numpy array (the numpy RNG state of checkpoints written before the
    trainer stored it as a tensor)."""
    if not p.is_file():
        raise CheckpointError(f"no such checkpoint file: {p}")
    reconstruct = np.zeros(0).__reduce__()[0]  # numpy's array unpickling helper (its module moved in numpy 2)
    allowed = [reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{p.name}: not a GPSToken training checkpoint "
                              "(it holds objects other than tensors and plain data)") from None
    except Exception as exc:  # torch raises many types for torn or foreign files
        raise CheckpointError(f"{p.name}: not a readable training checkpoint "
                              f"(truncated or corrupt: {type(exc).__name__})") from None


def _run_config(p: Path) -> dict[str, Any] | None:
    """The run folder's TrainConfig (``<run>/config.json`` next to ``<run>/checkpoints/``), if readable."""
    path = p.parent.parent / RUN_CONFIG
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
