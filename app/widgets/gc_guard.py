"""Python's cyclic garbage collector runs on whichever thread happens to allocate. When it frees a Qt
object on a worker thread (a closed window, a dialog, a panel), Qt aborts the process. While a
window is open, automatic collection is therefore off and this collects on the GUI thread instead,
at the same generation thresholds Python would use.

Re-examined with PySide6-Essentials 6.11.3 (the ``none_dealloc`` abort of 6.12.0 is a different bug, kept
out by the version pin): without this, benchmarks/stress_gc_threads.py still segfaults (7 of 8 runs),
with it none did (0 of 5)."""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_holders = 0  # open windows: automatic collection is back on when the last one closes


class MainThreadCollector(QObject):
    """Owned by the main window; ``stop`` when the window shuts down."""

    def __init__(self, parent: QObject, interval_ms: int = 500) -> None:
        global _holders
        super().__init__(parent)
        _holders += 1
        gc.disable()
        self._running = True
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        self.timer.start()

    @staticmethod
    def collect() -> None:
        """Collect the oldest generation whose count passed its threshold, as automatic collection would."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return

    def stop(self) -> None:
        global _holders
        if not self._running:
            return
        self._running = False
        self.timer.stop()
        gc.collect()  # what the window leaves behind goes here, on the GUI thread
        _holders -= 1
        if _holders == 0:
            gc.enable()
