"""Shared helpers of the config dataclasses (tokenizer, generator, training)."""
from __future__ import annotations

import dataclasses
from typing import Any, Type, TypeVar

from .errors import GPSTokenError

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
