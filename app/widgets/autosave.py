"""Recovery files: autosave of unsaved work, per document and per editor instance, and its recovery.

Each editor instance writes into a folder of its own under the recovery root (``ROOT/<instance id>/``),
held by a lock file while the instance runs; each document it edits gets its own file there. A file is
deleted only after its document was saved, when a person discards it, or when its document has no
unsaved changes any more. A document left with unsaved changes keeps its file: a clean exit without a
save (nobody asked, or nobody could answer) writes its last state. Another instance never touches a
running instance's folder; a folder whose owner is gone (crash, SIGKILL) holds work to offer.
"""
from __future__ import annotations

import itertools
import os
import threading
import uuid
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, QStandardPaths, QTimer, Signal

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.project import SUFFIX, save_project, snapshot

RECOVERY_ENV = "GPSTOKEN_STUDIO_RECOVERY_DIR"
LOCK_NAME = "instance.lock"


def recovery_root() -> Path:
    """$GPSTOKEN_STUDIO_RECOVERY_DIR, else ``recovery`` in the per-user app data folder."""
    root = os.environ.get(RECOVERY_ENV) or os.path.join(
        QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".gpstoken-studio"),
        "recovery")
    return Path(root)


def _lock(folder: Path) -> QLockFile:
    lock = QLockFile(str(folder / LOCK_NAME))
    lock.setStaleLockTime(0)  # stale only when its process is gone, never by age (sessions last hours)
    return lock


class Autosaver(QObject):
    """One per window. Snapshots on the GUI thread, writes on a background thread; one write at a time."""

    saved = Signal(str)  # status text; emitted from the writer thread, so connect QObject methods only
    failed = Signal(str)

    def __init__(self, interval_s: float = 30.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = recovery_root()
        self.folder: Path | None = None  # this instance's folder: made, and locked, on the first write
        self.path: Path | None = None  # the current document's recovery file, once written
        self.doc: Document | None = None
        self._own_lock: QLockFile | None = None
        self._claimed: dict[Path, QLockFile] = {}  # folders of ended instances whose files we offer
        self._names = itertools.count(1)
        self._dirty = False  # changes since the last write
        self._discarded = False  # a person discarded the current document's unsaved changes
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    # --- the current document -----------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        """Follow ``doc``; the previous document's file is kept if it has unsaved work, else deleted."""
        if self.doc is not None:
            self.doc.history.changed.disconnect(self._on_change)
            self._let_go()
        self.doc, self.path = doc, None
        self._dirty = self._discarded = False
        if doc is not None:
            doc.history.changed.connect(self._on_change)

    def _on_change(self) -> None:
        self._dirty = bool(self.doc and self.doc.history.dirty)
        self._discarded = False

    def save_now(self, wait: bool = False) -> None:
        """Write the recovery file if there are unsaved changes since the last write (``wait``: until written)."""
        if wait:
            self.wait()
        if self._dirty and self.doc is not None and not (self._writer is not None and self._writer.is_alive()):
            if self.path is None:
                stem = (self.doc.project_path or self.doc.image_path or Path("untitled")).stem
                try:
                    self.path = self._own_folder() / f"{stem}-{next(self._names)}{SUFFIX}"
                except OSError as exc:  # an unwritable recovery folder must never take the editor down
                    self.failed.emit(f"autosave failed: {exc}")
                    return
            data, path = snapshot(self.doc), self.path
            self._dirty = False
            self._writer = threading.Thread(target=self._write, args=(data, path), daemon=True)
            self._writer.start()
        if wait:
            self.wait()

    def wait(self, timeout: float = 30.0) -> None:
        if self._writer is not None:
            self._writer.join(timeout)

    def _write(self, data, path: Path) -> None:
        try:
            with self._lock:
                save_project(data, path)
            self.saved.emit(f"autosaved to {path}")
        except Exception as exc:  # a failed autosave must never take the editor down
            self.failed.emit(f"autosave failed: {exc}")

    def discard(self) -> None:
        """Delete the current document's recovery file (after a save, or when a person discards the changes)."""
        self.wait()
        self._dirty = False
        self._discarded = True
        self._remove(self.path)

    def adopt(self, path: Path) -> None:
        """Take over a recovered file as the current document's: it moves into this instance's folder and
        stays there until the document is saved or discarded."""
        self.wait()
        target = self._own_folder() / f"{Path(path).stem}-{next(self._names)}{SUFFIX}"
        os.replace(path, target)
        self._tidy(Path(path).parent)
        self.path, self._dirty = target, False

    def release(self) -> None:
        """On closing the window: keep or delete the current file as ``set_document(None)`` does, then give
        up this instance's folder (deleted when empty) and the folders it had claimed."""
        self.timer.stop()
        self.set_document(None)
        self.wait()
        for folder in [*self._claimed, *([self.folder] if self.folder else [])]:
            self._tidy(folder, keep_lock=False)
        self.folder = None

    def _let_go(self) -> None:
        """The current document is being closed or replaced."""
        if self.doc.history.dirty and not self._discarded:
            self.save_now(wait=True)  # its last state, kept for the next start
        else:
            self.discard()

    # --- other instances' files ---------------------------------------------------------------

    def orphans(self) -> list[Path]:
        """Recovery files of editor instances that ended without saving them, newest first. Their folders
        are claimed (locked) while this instance runs, so two editors never offer the same file."""
        found = []
        if self.root.is_dir():
            for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
                if folder == self.folder:
                    continue
                if folder not in self._claimed:
                    lock = _lock(folder)
                    if not lock.tryLock(0):
                        continue  # its editor is running
                    self._claimed[folder] = lock
                files = list(folder.glob(f"*{SUFFIX}"))
                if not files:
                    self._tidy(folder, keep_lock=False)
                found += files
        return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)

    def remove_orphan(self, path: Path) -> None:
        """A person discarded an offered file."""
        self._remove(path)
        self._tidy(Path(path).parent)

    # --- folders ------------------------------------------------------------------------------

    def _own_folder(self) -> Path:
        if self.folder is None:
            folder = self.root / uuid.uuid4().hex
            folder.mkdir(parents=True)
            lock = _lock(folder)
            if not lock.tryLock(0):
                raise OSError(f"cannot lock the recovery folder {folder}")
            self.folder, self._own_lock = folder, lock
        return self.folder

    def _remove(self, path: Path | None) -> None:
        if path is not None:
            with self._lock:
                Path(path).unlink(missing_ok=True)

    def _tidy(self, folder: Path, keep_lock: bool = True) -> None:
        """Delete ``folder`` once it holds no recovery file (its lock goes with it); ``keep_lock=False`` also
        gives up the lock of a folder that still holds files (the next start offers them)."""
        empty = not any(folder.glob(f"*{SUFFIX}"))
        if not (empty or not keep_lock):
            return
        lock = self._own_lock if folder == self.folder else self._claimed.get(folder)
        if lock is not None:
            lock.unlock()
        self._claimed.pop(folder, None)
        if folder == self.folder and empty:
            self.folder = self._own_lock = None
        if empty:
            try:
                for leftover in folder.iterdir():  # Qt's lock temp files of a killed instance
                    leftover.unlink()
                folder.rmdir()
            except OSError:
                pass
