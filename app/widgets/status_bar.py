"""Status bar: message, busy indicator, progress of the running job, pointer position."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget


class StudioStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel("Ready")
        self.position = QLabel("")
        self.busy = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.addWidget(self.message, 1)
        self.addPermanentWidget(self.position)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.busy)
        self._frames = "◐◓◑◒"
        self._frame = 0
        self._spin = QTimer(self)
        self._spin.setInterval(120)
        self._spin.timeout.connect(self._tick)

    def set_message(self, text: str) -> None:
        self.message.setText(text)

    def set_busy(self, busy: bool) -> None:
        if busy:
            self._spin.start()
            self._tick()
        else:
            self._spin.stop()
            self.busy.setText("")
            self.progress.setVisible(False)

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setVisible(True)
        self.progress.setValue(int(round(1000 * max(0.0, min(1.0, fraction)))))
        self.progress.setToolTip(text)
        self.message.setText(text)

    def set_position(self, x: float, y: float) -> None:
        self.position.setText(f"x {x:.1f}  y {y:.1f}")

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(self._frames)
        self.busy.setText(f"{self._frames[self._frame]} working")
