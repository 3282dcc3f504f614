"""Atomic file writes and output-path checks: the target is either the old file or the complete new one.

Outputs are regular files. A directory, device, FIFO or socket at an output path is refused with one
line (``--out /dev/null`` included: an atomic write would replace the device node). A symlink is
written through: the file it points to is replaced and the link stays. Temporary files are named
``.NAME.PID-XXXX.tmp.SUFFIX``; those of processes that no longer run (killed mid-write) are removed on
the next write into the same folder.
"""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import GPSTokenError

_TEMP_NAME = re.compile(r"^\..*\.(\d+)-[a-z0-9_]+\.tmp(\.[^.]*)?$")
_swept: set[Path] = set()


def check_output_file(path: str | os.PathLike, what: str = "--out",
                      suffixes: Sequence[str] | None = None) -> Path:
    """Refuse, before any work, an output path that cannot be written as a regular file (one line)."""
    p = Path(path)
    if p.is_dir():
        raise GPSTokenError(f"{what} {p} is a folder: give a file name")
    if p.exists() and not p.is_file():
        raise GPSTokenError(f"{what} {p} is a device, FIFO or socket, not a regular file")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise GPSTokenError(f"{what}: cannot write {p.name}: use one of {', '.join(suffixes)}")
    _check_writable_parent(p.parent, what, p)
    return p


def check_output_dir(path: str | os.PathLike, what: str = "--out") -> Path:
    """Refuse, before any work, an output folder path that exists as something other than a folder."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise GPSTokenError(f"{what} {p} exists and is not a folder")
    _check_writable_parent(p if p.is_dir() else p.parent, what, p)
    return p


def _check_writable_parent(folder: Path, what: str, p: Path) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise GPSTokenError(f"{what} {p}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GPSTokenError(f"{what} {p}: no permission to write in {existing}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix, so writers that pick a format by extension still work.
    """
    target = Path(os.path.realpath(path))  # a symlink is written through
    if target.exists() and not target.is_file():
        kind = "a folder" if target.is_dir() else "a device, FIFO or socket"
        raise GPSTokenError(f"cannot write {path}: it is {kind}, not a regular file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.{os.getpid()}-", suffix=f".tmp{target.suffix}",
                                   dir=target.parent)
    except OSError as exc:
        raise GPSTokenError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _NEW_FILE_MODE)  # mkstemp makes 0600; a plain open() would follow the umask
        try:
            os.replace(tmp_path, target)
        except OSError as exc:
            raise GPSTokenError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove this module's temporary files in ``folder`` whose writing process no longer runs (once per
    folder and process); returns the removed paths."""
    folder = Path(folder)
    if folder in _swept:
        return []
    _swept.add(folder)
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_NAME.match(name)
        if m and not _process_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
                removed.append(folder / name)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read_umask() -> int:
    umask = os.umask(0)  # the only way to read it; done once at import, before worker threads exist
    os.umask(umask)
    return umask


_NEW_FILE_MODE = 0o666 & ~_read_umask()
