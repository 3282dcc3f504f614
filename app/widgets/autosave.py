"""Autosave to a recovery file every N seconds after changes (atomic), and recovery on next start."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.project import save_project, snapshot

RECOVERY_ENV = "GPSTOKEN_STUDIO_RECOVERY_DIR"
RECOVERY_NAME = "recovery.gpsproj"


def recovery_path() -> Path:
    """$GPSTOKEN_STUDIO_RECOVERY_DIR/recovery.gpsproj, else in the per-user app data folder."""
    root = os.environ.get(RECOVERY_ENV) or os.path.join(
        QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home() / ".gpstoken-studio"),
        "recovery")
    return Path(root) / RECOVERY_NAME


class Autosaver(QObject):
    """Snapshots on the GUI thread, writes on a background thread; one write at a time."""

    saved = Signal(str)  # status text; emitted from the writer thread, so connect QObject methods only
    failed = Signal(str)

    def __init__(self, interval_s: float = 30.0, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = recovery_path()
        self.doc: Document | None = None
        self._dirty = False
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()
        self.timer = QTimer(self)
        self.timer.setInterval(int(interval_s * 1000))
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.history.changed.disconnect(self._on_change)
        self.doc = doc
        self._dirty = False
        if doc is not None:
            doc.history.changed.connect(self._on_change)

    def _on_change(self) -> None:
        self._dirty = bool(self.doc and self.doc.history.dirty)

    def save_now(self) -> None:
        """Write the recovery file if there are unsaved changes since the last autosave."""
        if not self._dirty or self.doc is None or (self._writer is not None and self._writer.is_alive()):
            return
        data = snapshot(self.doc)
        self._dirty = False
        self._writer = threading.Thread(target=self._write, args=(data,), daemon=True)
        self._writer.start()

    def wait(self, timeout: float = 10.0) -> None:
        if self._writer is not None:
            self._writer.join(timeout)

    def _write(self, data) -> None:
        try:
            with self._lock:
                save_project(data, self.path)
            self.saved.emit(f"autosaved to {self.path}")
        except Exception as exc:  # a failed autosave must never take the editor down
            self.failed.emit(f"autosave failed: {exc}")

    def discard(self) -> None:
        """Remove the recovery file (after a save, or on a clean exit)."""
        self.wait()
        self._dirty = False
        with self._lock:
            self.path.unlink(missing_ok=True)

    def pending(self) -> Path | None:
        return self.path if self.path.is_file() else None
