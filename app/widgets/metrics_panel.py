"""Metrics of the latest full result: over the image and inside the painted region."""
from __future__ import annotations

import math

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from gpstoken_studio.model.result import Result

ROWS = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("ms_ssim", "MS-SSIM"), ("haarpsi", "HaarPSI (perceptual)"))


class MetricsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(len(ROWS), 2, self)
        self.table.setHorizontalHeaderLabels(["image", "painted region"])
        self.table.setVerticalHeaderLabels([label for _, label in ROWS])
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self._fit_contents()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        self.show_result(None)

    def show_result(self, result: Result | None) -> None:
        metrics = {} if result is None else result.metrics
        for r, (key, _) in enumerate(ROWS):
            for c, suffix in enumerate(("", "_mask")):
                value = metrics.get(key + suffix)
                self.table.setItem(r, c, QTableWidgetItem(_format(key, value)))

    def _fit_contents(self) -> None:
        """Columns share the width but never get narrower than their headers; the table is never smaller
        than its row labels, both columns and all rows (a dock cannot clip it, nor need a scroll bar)."""
        table, header, rows = self.table, self.table.horizontalHeader(), self.table.verticalHeader()
        header.setSectionResizeMode(QHeaderView.Stretch)
        column = max(header.sectionSizeHint(c) for c in range(table.columnCount()))
        header.setMinimumSectionSize(column)
        frame = 2 * table.frameWidth()
        table.setMinimumSize(rows.sizeHint().width() + table.columnCount() * column + frame,
                             header.sizeHint().height() + rows.length() + frame)

    def value(self, key: str, masked: bool = False) -> str:
        r = [k for k, _ in ROWS].index(key)
        return self.table.item(r, 1 if masked else 0).text()


def _format(key: str, value) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "∞"
    return f"{value:.2f}" if key == "psnr" else f"{value:.4f}"
