"""Safetensors files: read with one-line errors, write atomically as float32 with metadata."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import CheckpointError
from .atomic import atomic_path


def read_safetensors(path: str | os.PathLike, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """All tensors (none with ``tensors=False``) and the metadata of a safetensors file; unreadable files
    are one CheckpointError line."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"no such checkpoint file: {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            arrays = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{p.name}: not a readable safetensors file ({detail})") from None
    return arrays, metadata


def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write ``tensors`` (as contiguous CPU float32) and string ``metadata`` to ``path`` atomically."""
    from safetensors.torch import save_file

    plain = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=metadata)


def config_from_metadata(metadata: dict[str, str], key: str, from_dict: Callable[[dict], Any],
                         filename: str, what: str) -> Any:
    """The config our checkpoints store as JSON under ``key``; absent or broken: one CheckpointError line."""
    if key not in metadata:
        raise CheckpointError(f"{filename} holds no {what} (an official file?): pass its YAML or a preset name")
    try:
        return from_dict(json.loads(metadata[key]))
    except json.JSONDecodeError:
        raise CheckpointError(f"{filename}: the {what} in its metadata is not valid JSON") from None
