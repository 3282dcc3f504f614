"""Shared helpers of the config dataclasses (tokenizer, generator, training)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Type, TypeVar

from .errors import CheckpointError, GPSTokenError

C = TypeVar("C")


def dataclass_from_dict(cls: Type[C], d: dict[str, Any], what: str, error: Type[GPSTokenError]) -> C:
    """Build ``cls(**d)``; an unknown field or a bad value is one ``error`` line prefixed with ``what``."""
    unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise error(f"{what}: unknown field {unknown[0]!r}")
    try:
        return cls(**d)
    except (TypeError, ValueError) as exc:
        raise error(f"{what}: {exc}") from None


def named(presets: dict[str, C], name: str, what: str, error: Type[GPSTokenError]) -> C:
    """The preset called ``name``, or one ``error`` line listing the known names."""
    try:
        return presets[name]
    except KeyError:
        raise error(f"unknown {what} {name!r} (known: {', '.join(presets)})") from None


def read_official_yaml(path: str | os.PathLike) -> tuple[Any, Path]:
    """The parsed document of an official YAML config and its path; unreadable: one CheckpointError line."""
    import yaml

    p = Path(path)
    try:
        return yaml.safe_load(p.read_text()), p
    except FileNotFoundError:
        raise CheckpointError(f"no such config file: {p}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CheckpointError(f"{p.name}: not a readable YAML file ({type(exc).__name__})") from None


def resolve(config: Any, cls: Type[C], presets: dict[str, C], from_yaml: Callable[[Any], C]) -> C:
    """A ``cls`` from an instance, a dict (ours), a preset name or an official YAML path."""
    if isinstance(config, cls):
        return config
    if isinstance(config, dict):
        return cls.from_dict(config)
    if isinstance(config, str) and config in presets:
        return presets[config]
    return from_yaml(config)
