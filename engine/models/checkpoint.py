"""Tokenizer checkpoints: official safetensors files (with their YAML), ours (config in metadata) and
our training checkpoints (``.pt``: EMA weights and config, see training_checkpoint).

Weights are stored under the reference's key names in both cases, so either kind loads into the
other's code. Official files may carry an ``ema_model.`` prefix (the EMA wrapper; ``online_model.*``,
``initted`` and ``step`` are then ignored) or a ``module.`` prefix (DistributedDataParallel).
Loading is strict: the first missing, unexpected or wrongly shaped key is one CheckpointError line.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io.safetensors_file import config_from_metadata, read_safetensors, write_safetensors
from .config import TokenizerConfig, resolve_config
from .tokenizer import GPSTokenizer
from .training_checkpoint import is_training_checkpoint_path, read_training_checkpoint

CONFIG_KEY = "gpstoken.config"
FORMAT_KEY = "gpstoken.format"
FORMAT = "tokenizer-v1"
_EMA_PREFIX = "ema_model."
_EMA_EXTRAS = ("online_model.", "initted", "step")
_DDP_PREFIX = "module."


def official_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip an ``ema_model.`` (dropping the EMA wrapper's other entries) or ``module.`` prefix."""
    if any(k.startswith(_EMA_PREFIX) for k in state):
        return {k[len(_EMA_PREFIX):]: v for k, v in state.items() if k.startswith(_EMA_PREFIX)}
    if state and all(k.startswith(_DDP_PREFIX) for k in state):
        return {k[len(_DDP_PREFIX):]: v for k, v in state.items()}
    return dict(state)


def load_weights(model: GPSTokenizer, state: dict[str, torch.Tensor]) -> None:
    """Load official-key weights strictly (the tensors become the parameters, so ``model`` may live
    on the meta device); the first bad key raises one CheckpointError line."""
    state = official_keys(state)
    expected = model.official_state_dict()
    for key, value in expected.items():
        if key not in state:
            raise CheckpointError(f"checkpoint does not fit the model: missing key {key!r} {_shape(value)}")
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(
                f"checkpoint does not fit the model: {key!r} has shape {_shape(state[key])}, "
                f"the model needs {_shape(value)}"
            )
    for key in state:
        if key not in expected:
            raise CheckpointError(f"checkpoint does not fit the model: unexpected key {key!r} {_shape(state[key])}")
    check_finite(state, "checkpoint")
    model.load_official_state_dict({k: v.float() for k, v in state.items()}, assign=True)


def needs_config(path: str | os.PathLike) -> bool:
    """Whether a tokenizer file needs a config to load (an official safetensors file: its YAML); reads the
    header only. Training checkpoints (``.pt``) carry theirs."""
    if is_training_checkpoint_path(path):
        return False
    _, metadata = read_safetensors(path, tensors=False)
    return CONFIG_KEY not in metadata


def load_tokenizer(path: str | os.PathLike, config: TokenizerConfig | dict | str | os.PathLike | None = None,
                   device: str | torch.device | None = None) -> GPSTokenizer:
    """A tokenizer from a checkpoint, in eval mode.

    ``path``: a safetensors file or a ``gpstoken train`` checkpoint (``.pt``: its EMA weights).
    ``config``: None (read it from the file: our checkpoints), a TokenizerConfig, a dict,
    a preset name (``s64``, ``m128``, ``l256``, ``tiny``) or an official YAML path.
    """
    training = is_training_checkpoint_path(path)
    if training:
        tensors, saved = read_training_checkpoint(path)
        if config is None and saved is None:
            raise CheckpointError(f"{Path(path).name} holds no model config and its run folder has no "
                                  "config.json: pass a config or a preset name")
        cfg = resolve_config(config if config is not None else saved)
    else:
        tensors, metadata = read_safetensors(path)
        if config is None:
            cfg = config_from_metadata(metadata, CONFIG_KEY, TokenizerConfig.from_dict, Path(path).name, "model config")
        else:
            cfg = resolve_config(config)
    with torch.device("meta"):  # no random initialisation: every weight comes from the file
        model = GPSTokenizer(cfg)
    if training:  # module key names -> the reference's; unknown keys keep theirs for load_weights to report
        official = dict(zip(model.state_dict(), model.official_state_dict()))
        tensors = {official.get(k, k): v for k, v in tensors.items()}
    load_weights(model, tensors)
    model.eval()
    return model.to(device) if device is not None else model


def save_tokenizer(model: GPSTokenizer, path: str | os.PathLike, extra_metadata: dict[str, str] | None = None) -> None:
    """Write weights (official key names) and the config to ``path`` atomically."""
    metadata = {**(extra_metadata or {}), CONFIG_KEY: json.dumps(model.config.to_dict()), FORMAT_KEY: FORMAT}
    write_safetensors(path, model.official_state_dict(), metadata)


def check_finite(state: dict[str, torch.Tensor], what: str) -> None:
    """One CheckpointError line naming the first floating-point weight that holds NaN or inf."""
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"{what}: weight {key!r} holds NaN or infinite values (a diverged or damaged "
                                  "model)")


def _shape(t: torch.Tensor) -> str:
    return "[" + ",".join(str(s) for s in t.shape) + "]"
