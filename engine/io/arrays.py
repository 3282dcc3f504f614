"""``.npy``/``.npz`` files read safely: headers checked before any array is allocated, never unpickled.

A ``.npy`` header declares the shape numpy allocates before it reads a byte of data, so a crafted header
can ask for hundreds of GiB. :func:`load_npz` and :func:`load_npy` read each header first and refuse
object arrays, arrays over the limit of :mod:`gpstoken.limits` and arrays larger than the bytes the file
holds. Reusable by any reader of files from elsewhere (token files, run folders, project files).
"""
from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path
from typing import IO, Type

import numpy as np

from ..errors import GPSTokenError
from ..limits import check_array_bytes

_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, KeyError)


def read_npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a ``.npy`` stream declares; ``fh`` is left at the start of the data."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(int(s) for s in shape), np.dtype(dtype)


def _check_declared(shape: tuple[int, ...], dtype: np.dtype, available: int, what: str,
                    error: Type[GPSTokenError]) -> None:
    if dtype.hasobject:
        raise error(f"{what} holds Python objects, which are never loaded (only numeric arrays)")
    nbytes = math.prod(shape) * dtype.itemsize
    try:
        check_array_bytes(nbytes, what)
    except GPSTokenError as exc:
        raise error(str(exc)) from None
    if nbytes > available:
        raise error(f"{what} declares {nbytes:,} bytes but the file holds {available:,} (truncated or forged)")


def check_npz(path: str | os.PathLike, error: Type[GPSTokenError] = GPSTokenError) -> dict[str, tuple]:
    """``{name: (shape, dtype)}`` of every array of an ``.npz`` file, each checked against the limits."""
    p = Path(path)
    members = {}
    try:
        with zipfile.ZipFile(p) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as fh:
                    shape, dtype = read_npy_header(fh)
                    header = fh.tell()
                name = info.filename[:-4]
                _check_declared(shape, dtype, info.file_size - header, f"{p.name}: array {name!r}", error)
                members[name] = (shape, dtype)
    except GPSTokenError:
        raise  # a ValueError too: keep its message
    except _READ_ERRORS as exc:
        raise error(f"{p.name}: not a readable .npz file ({type(exc).__name__})") from None
    return members


def load_npz(path: str | os.PathLike, error: Type[GPSTokenError] = GPSTokenError,
             what: str = "file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, after :func:`check_npz`; problems are one ``error`` line
    (``what`` names the file's role in "no such ...")."""
    p = Path(path)
    if not p.is_file():
        raise error(f"no such {what}: {p}")
    check_npz(p, error)
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except _READ_ERRORS as exc:
        raise error(f"{p.name}: not a readable .npz file ({type(exc).__name__})") from None


def load_npy(path: str | os.PathLike, error: Type[GPSTokenError] = GPSTokenError,
             what: str = "file") -> np.ndarray:
    """The array of a ``.npy`` file, its header checked first; problems are one ``error`` line
    (``what`` names the file's role in "no such ...")."""
    p = Path(path)
    if not p.is_file():
        raise error(f"no such {what}: {p}")
    try:
        with open(p, "rb") as fh:
            shape, dtype = read_npy_header(fh)
            available = os.fstat(fh.fileno()).st_size - fh.tell()
        _check_declared(shape, dtype, available, p.name, error)
        return np.load(p, allow_pickle=False)
    except GPSTokenError:
        raise  # a ValueError too: keep its message
    except _READ_ERRORS as exc:
        raise error(f"{p.name}: not a readable .npy file ({type(exc).__name__})") from None
