"""Generator checkpoints: official files (``ema_model.``-prefixed keys, with their YAML) and ours
(the same keys, the config as JSON in the metadata). Loading is strict; the first missing,
unexpected or wrongly shaped key is one CheckpointError line."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..io.safetensors_file import config_from_metadata, read_safetensors, write_safetensors
from ..models.checkpoint import check_finite
from .config import GeneratorConfig, resolve_config
from .generator import Generator

CONFIG_KEY = "gpstoken.generator_config"
FORMAT_KEY = "gpstoken.format"
FORMAT = "generator-v1"
EMA_PREFIX = "ema_model."


def load_generator(path: str | os.PathLike, config: GeneratorConfig | dict | str | os.PathLike | None = None,
                   device: str | torch.device | None = None) -> Generator:
    """A generator in eval mode. ``config``: None (from the file's metadata), a GeneratorConfig, a dict,
    a preset name or an official YAML path. Only ``ema_model.*`` keys are used when the file has any."""
    tensors, metadata = read_safetensors(path)
    name = Path(path).name
    cfg = _config(metadata, config, name)
    if any(k.startswith(EMA_PREFIX) for k in tensors):
        tensors = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    with torch.device("meta"):  # every weight comes from the file
        model = Generator(cfg)
    _check_keys(model.state_dict(), tensors, name)
    check_finite(tensors, name)
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True, assign=True)
    model.eval()
    return model.to(device) if device is not None else model


def read_generator_config(path: str | os.PathLike,
                          config: GeneratorConfig | dict | str | os.PathLike | None = None) -> GeneratorConfig:
    """The config of a generator file without reading its weights (header only): its metadata, or ``config``."""
    _, metadata = read_safetensors(path, tensors=False)
    return _config(metadata, config, Path(path).name)


def _config(metadata: dict[str, str], config, name: str) -> GeneratorConfig:
    if config is None:
        return config_from_metadata(metadata, CONFIG_KEY, GeneratorConfig.from_dict, name, "generator config")
    return resolve_config(config)


def save_generator(model: Generator, path: str | os.PathLike, extra_metadata: dict[str, str] | None = None) -> None:
    """Write the weights under ``ema_model.`` keys (as official generator files) and the config, atomically."""
    metadata = {**(extra_metadata or {}), CONFIG_KEY: json.dumps(model.config.to_dict()), FORMAT_KEY: FORMAT}
    write_safetensors(path, {EMA_PREFIX + k: v for k, v in model.state_dict().items()}, metadata)


def _check_keys(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], name: str) -> None:
    for key, value in expected.items():
        if key not in state:
            raise CheckpointError(f"{name} does not fit the generator: missing key {key!r} {_shape(value)}")
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointError(f"{name} does not fit the generator: {key!r} has shape {_shape(state[key])}, "
                                  f"the model needs {_shape(value)}")
    for key in state:
        if key not in expected:
            raise CheckpointError(f"{name} does not fit the generator: unexpected key {key!r} {_shape(state[key])}")


def _shape(t: torch.Tensor) -> str:
    return "[" + ",".join(str(s) for s in t.shape) + "]"
