"""Why gpstoken_studio.widgets.gc_guard exists: Python's cyclic GC frees Qt widgets on whatever thread
it runs on. Here the GUI thread builds and drops widgets held in reference cycles while two worker
threads allocate (so automatic collections, and the widgets' deletion, happen on the workers).

    xvfb-run -a .venv/bin/python benchmarks/stress_gc_threads.py [N=3000] [plain|guard|noworkers]

plain: automatic GC, workers running (segfaults with PySide6-Essentials 6.11.3, CPython 3.11);
guard: the editor's MainThreadCollector (automatic GC off, collections on the GUI thread): runs through;
noworkers: automatic GC with no worker threads: runs through.
"""
from __future__ import annotations

import gc
import sys
import threading
import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QPushButton, QVBoxLayout, QWidget


class Panel(QWidget):
    """A widget in a reference cycle (a connected lambda and an attribute refer back to it)."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.label, self.button = QLabel("x", self), QPushButton("y", self)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        self.timer = QTimer(self)
        self.timer.start(1000)
        self.button.clicked.connect(lambda: self.label.setText("z"))
        self.me = self


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
    app = QApplication(sys.argv[:1])
    main_thread = threading.get_ident()
    collections = {"main": 0, "worker": 0}
    gc.callbacks.append(lambda phase, _info: phase == "start" and collections.__setitem__(
        key := "main" if threading.get_ident() == main_thread else "worker", collections[key] + 1))
    if mode == "guard":
        from gpstoken_studio.widgets.gc_guard import MainThreadCollector

        holder = QObject()
        MainThreadCollector(holder, 50)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            junk = [[i] for i in range(2000)]
            for item in junk:
                item.append(item)
            time.sleep(0.002)

    workers = [threading.Thread(target=churn, daemon=True) for _ in range(0 if mode == "noworkers" else 2)]
    for w in workers:
        w.start()
    t0 = time.time()
    for i in range(n):
        panel = Panel()
        panel.show()
        panel.hide()
        dialog = QDialog()
        dialog.cycle = dialog
        del panel, dialog
        if i % 50 == 0:
            app.processEvents()
            if mode == "guard":
                time.sleep(0.06)  # let the collector's timer fire
                app.processEvents()
    stop.set()
    print(f"{mode}: {n} widgets in {time.time() - t0:.1f} s, collections {collections}")


if __name__ == "__main__":
    main()
