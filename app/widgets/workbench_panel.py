"""The rate-quality workbench: every record of ``model.rate_records`` in a table (one row per distinct setting),
the command that reproduces the chosen row, Sweep and CSV export, and a filmstrip of the sweep's reconstructions."""
from __future__ import annotations

import math

from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLineEdit, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from gpstoken_studio.engines.base import to_uint8
from gpstoken_studio.model.rate_records import RateBook, RateRecord
from gpstoken_studio.model.result import Result
from gpstoken_studio.widgets.image_grid import ImageGrid

COLUMNS = (("engine", "engine"), ("tokens_per_tile", "per tile"), ("tokens", "total"), ("psnr", "PSNR"),
           ("ssim", "SSIM"), ("haarpsi", "HaarPSI"), ("warm", "start"), ("min_size", "min size"), ("lam", "λ"),
           ("steps", "steps"), ("bias", "bias"), ("tiles", "tiles"), ("origin", "from"))


class WorkbenchPanel(QWidget):
    """Shows a ``RateBook``; ``image`` names the document's image in the reproducing commands."""

    def __init__(self, book: RateBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.image = "IMAGE"
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([label for _, label in COLUMNS])
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectRows)
        self.table.setSelectionMode(QTableWidget.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        rows = self.table.verticalHeader()
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + 6 * rows.defaultSectionSize()
                                    + 2 * self.table.frameWidth())  # six records without scrolling
        self.command = QLineEdit(self)
        self.command.setReadOnly(True)
        self.command.setPlaceholderText("the gpstoken command of the chosen row")
        self.sweep_button = QPushButton("Sweep", self)
        self.sweep_button.setToolTip("Fresh fits (or encodes) at 16 ... 2048 tokens per tile, "
                                     "as far as the minimum size allows")
        self.export_button = QPushButton("Export CSV…", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.sweep_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.command)
        self.filmstrip = ImageGrid(128, wrap=False, parent=self)  # reconstructions across token counts
        self.filmstrip.setToolTip("The last sweep's reconstructions, one per token count")
        layout.addWidget(self.filmstrip)
        self.table.itemSelectionChanged.connect(self._show_command)
        book.events.changed.connect(lambda _b: self.refresh())
        self.refresh()

    def add_frame(self, result: Result, tokens_per_tile: int) -> None:
        """A sweep's reconstruction at ``tokens_per_tile`` joins the filmstrip (in the order the sweep runs)."""
        psnr = result.metrics.get("psnr", float("nan"))
        self.filmstrip.put(tokens_per_tile, f"{tokens_per_tile}/tile · {psnr:.2f} dB", to_uint8(result.reconstruction))

    def rows(self) -> list[RateRecord]:
        return self.book.records()

    def refresh(self) -> None:
        records = self.rows()
        self.table.setRowCount(len(records))
        for r, record in enumerate(records):
            for c, (key, _) in enumerate(COLUMNS):
                item = QTableWidgetItem(_format(key, getattr(record, key)))
                if record is self.book.current:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self._show_command()

    def _show_command(self) -> None:
        picked = self.table.selectionModel().selectedRows()
        records = self.rows()
        record = records[picked[0].row()] if picked and picked[0].row() < len(records) else self.book.current
        self.command.setText("" if record is None else record.command(self.image))


def _format(key: str, value) -> str:
    if key == "bias":
        return "yes" if value else "no"
    if key == "warm":
        return "warm" if value else "fresh"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.2f}" if key in ("psnr", "lam") else f"{value:.4f}"
    return str(value)
