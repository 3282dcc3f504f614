"""Documented size limits for files that may come from someone else, each raisable by an environment variable.

Sizes declared in headers (image dimensions, ``.npy``/``.npz`` array shapes) are checked against these
limits before anything is allocated, so a lying or hostile header ends in one line instead of the OOM killer.

- ``GPSTOKEN_MAX_PIXELS`` (default 16,777,216 = 4096 x 4096): pixels of an image or bias map (width x
  height). Reconstructing with the bundled model takes about 1 KB of memory per pixel (measured peak RSS:
  1.7 GB at 1024x1024, 4.4 GB at 2048x2048), so the default stays within a 16-GB machine.
- ``GPSTOKEN_MAX_ARRAY_MB`` (default 2048): bytes one array of a ``.npy``/``.npz`` file may declare, in MiB.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .errors import GPSTokenError

MAX_PIXELS_ENV = "GPSTOKEN_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 4096 * 4096
MAX_ARRAY_MB_ENV = "GPSTOKEN_MAX_ARRAY_MB"
DEFAULT_MAX_ARRAY_MB = 2048


def positive_env(name: str, default: int) -> int:
    """The positive integer in environment variable ``name`` (``default`` when unset or blank), else a one-line error."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise GPSTokenError(f"${name} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise GPSTokenError(f"${name} must be a positive integer, got {text!r}")
    return value


def max_pixels() -> int:
    """The image pixel limit: ``$GPSTOKEN_MAX_PIXELS`` or 4096 x 4096."""
    return positive_env(MAX_PIXELS_ENV, DEFAULT_MAX_PIXELS)


@contextlib.contextmanager
def pixel_limit_at_least(pixels: int) -> Iterator[None]:
    """Inside the block, the image pixel limit is at least ``pixels`` (for trusted files, such as the
    wallpapers of system packages); the environment is restored afterwards."""
    before = os.environ.get(MAX_PIXELS_ENV)
    if max_pixels() < pixels:
        os.environ[MAX_PIXELS_ENV] = str(pixels)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(MAX_PIXELS_ENV, None)
        else:
            os.environ[MAX_PIXELS_ENV] = before


def max_array_bytes() -> int:
    """The per-array byte limit of ``.npy``/``.npz`` files: ``$GPSTOKEN_MAX_ARRAY_MB`` MiB or 2 GiB."""
    return positive_env(MAX_ARRAY_MB_ENV, DEFAULT_MAX_ARRAY_MB) * 2**20


def check_pixels(width: int, height: int, name: str) -> None:
    """Refuse an image whose declared size exceeds the pixel limit, naming the limit and how to raise it."""
    limit = max_pixels()
    if width * height > limit:
        raise GPSTokenError(f"{name}: {width}x{height} ({width * height:,} pixels) is over the {limit:,} pixel "
                            f"limit (raise it with ${MAX_PIXELS_ENV})")


def check_array_bytes(nbytes: int, what: str) -> None:
    """Refuse an array whose declared size exceeds the array limit, naming the limit and how to raise it."""
    limit = max_array_bytes()
    if nbytes > limit:
        raise GPSTokenError(f"{what} declares {nbytes / 2**20:,.0f} MiB, over the {limit // 2**20:,} MiB limit "
                            f"(raise it with ${MAX_ARRAY_MB_ENV})")
