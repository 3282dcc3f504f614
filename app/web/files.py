"""Files the page may reach: a folder tree under one root (no way out of it), and uploads checked like
the command line's images. Imports neither Panel nor Bokeh."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image

MAX_UPLOAD_BYTES = 32 * 1024 * 1024  # an upload larger than this is refused before it is decoded
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Entry:
    """One row of a folder listing: a path relative to the root (POSIX), and whether it is a folder."""

    path: str
    folder: bool


class FileRoot:
    """A folder the browser may list and open files in; every path is relative to it."""

    def __init__(self, root: str | os.PathLike) -> None:
        root_path = Path(root).expanduser()
        if not root_path.is_dir():
            raise GPSTokenError(f"--root {root}: not a folder")
        self.root = root_path.resolve()

    def resolve(self, relative: str) -> Path:
        """The real path of ``relative`` under the root; absolute paths, ``..`` and links that lead out of
        the root are a one-line GPSTokenError."""
        parts = PurePosixPath(relative.replace("\\", "/"))
        if relative.startswith(("/", "\\")) or parts.is_absolute() or (parts.parts and ":" in parts.parts[0]):
            raise GPSTokenError(f"{relative}: absolute paths are refused (paths are relative to the root folder)")
        if ".." in parts.parts:
            raise GPSTokenError(f"{relative}: '..' is refused (paths stay inside the root folder)")
        real = (self.root / parts).resolve()
        if real != self.root and self.root not in real.parents:
            raise GPSTokenError(f"{relative}: leads outside the root folder (a link out of it)")
        return real

    def listing(self, relative: str = "") -> list[Entry]:
        """Folders, then images and projects, in ``relative``; entries that lead out of the root are left out."""
        from gpstoken_studio.model.project import SUFFIX

        folder = self.resolve(relative)
        if not folder.is_dir():
            raise GPSTokenError(f"{relative or '.'}: not a folder")
        entries = []
        for child in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
            rel = (PurePosixPath(relative) / child.name).as_posix() if relative else child.name
            try:
                real = self.resolve(rel)
            except GPSTokenError:
                continue
            if real.is_dir():
                entries.append(Entry(rel, True))
            elif child.suffix.lower() in IMAGE_SUFFIXES + (SUFFIX,):
                entries.append(Entry(rel, False))
        return sorted(entries, key=lambda e: not e.folder)


def decode_upload(data: bytes, name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """An uploaded image file's bytes -> uint8 RGB ``[H, W, 3]``, with the command line's checks (pixel
    limit from the header, corrupt files); larger than ``max_bytes`` is refused before decoding."""
    if len(data) > max_bytes:
        raise GPSTokenError(too_large(name, len(data), max_bytes))
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise GPSTokenError(f"{name}: not an image file (use {', '.join(IMAGE_SUFFIXES)})")
    with tempfile.TemporaryDirectory(prefix="gpstoken-upload-") as folder:
        path = Path(folder) / (Path(name).name or f"upload{suffix}")  # errors then name the user's file
        path.write_bytes(data)
        image = load_image(path)
    return image


def too_large(name: str, size: int, max_bytes: int) -> str:
    """The one-line refusal of an upload of ``size`` bytes."""
    return f"{name}: {_size(size)} is over the {_size(max_bytes)} upload limit"


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"
