"""Shared helpers of the config dataclasses (tokenizer, generator, training)."""
from __future__ import annotations

import dataclasses
import math
import numbers
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
    except GPSTokenError:
        raise  # a ValueError too, already one line naming the config
    except (TypeError, ValueError) as exc:
        raise error(f"{what}: {exc}") from None


def check_fields(obj: Any, what: str, error: Type[GPSTokenError],
                 bounds: dict[str, tuple[float, float]] | None = None) -> None:
    """Check every field of dataclass ``obj`` against its annotation (int, float, bool, str, tuples of
    numbers, optional ints) and numbers against ``bounds`` (inclusive); floats must be finite. The first
    bad value is one ``error`` line naming ``what`` and the key."""
    for f in dataclasses.fields(obj):
        value, kind = getattr(obj, f.name), str(f.type)
        items = value if kind.startswith("tuple[") else (value,)
        if kind.startswith("tuple[") and not isinstance(value, tuple):
            raise error(f"{what}: {f.name} must be a list of numbers, got {value!r}")
        if kind == "int | None" and value is None:
            continue
        for item in items:
            if not _fits(item, kind):
                raise error(f"{what}: {f.name} must be {_KIND_NAMES.get(kind, 'finite numbers')}, got {value!r}")
            lo, hi = (bounds or {}).get(f.name, (-math.inf, math.inf))
            if isinstance(item, numbers.Real) and not lo <= item <= hi:
                raise error(f"{what}: {f.name} must be between {lo:g} and {hi:g}, got {value!r}")


_KIND_NAMES = {"int": "an integer", "int | None": "an integer", "float": "a finite number", "bool": "true or false",
               "str": "a string"}


def _fits(value: Any, kind: str) -> bool:
    if kind in ("bool", "str"):
        return isinstance(value, bool if kind == "bool" else str)
    if "int" in kind and "float" not in kind:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if "float" in kind:
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    return True  # other annotations (dicts, nested configs) are checked by their own classes


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


Opts = TypeVar("Opts")


def with_overrides(options: Opts | None, default: Type[Opts], overrides: dict, caller: str) -> Opts:
    """``options`` (else ``default()``) with the keyword ``overrides`` of ``caller`` applied; unknown names are a
    TypeError, as for any function."""
    base = options or default()
    unknown = set(overrides) - {f.name for f in dataclasses.fields(default)}
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword arguments: {sorted(unknown)}")
    return dataclasses.replace(base, **overrides) if overrides else base
