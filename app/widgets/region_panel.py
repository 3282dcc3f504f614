"""Region analytics in the Metrics dock: the numbers of ``model.region_analytics`` for the chosen region,
after and before the last change, and the pinned A/B snapshots; Pin and Export buttons."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from gpstoken.errors import GPSTokenError
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.region_analytics import SOURCES, RegionAnalytics, RegionReport
from gpstoken_studio.model.result import Result

ROWS = (("tokens", "tokens in region"), ("area_share", "area share"),
        ("psnr_inside", "PSNR inside (dB)"), ("psnr_outside", "PSNR outside (dB)"),
        ("ssim_inside", "SSIM inside"), ("ssim_outside", "SSIM outside"),
        ("haarpsi_inside", "HaarPSI inside"), ("haarpsi_outside", "HaarPSI outside"))
COLUMNS = ("after", "before", "change", "pin A", "pin B")
SOURCE_LABELS = {"image": "whole image", "selection": "selection (lasso)", "painted": "painted region"}


class RegionPanel(QWidget):
    """Binds to one document's ``RegionAnalytics``; reads numbers, never computes them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.analytics: RegionAnalytics | None = None
        self.export_path = None  # set by the window's prompt; tests call export() directly
        self.source = QComboBox(self)
        for key in SOURCES:
            self.source.addItem(SOURCE_LABELS[key], key)
        self.origin = QLabel("—", self)
        self.origin.setWordWrap(True)
        self.table = QTableWidget(len(ROWS), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setVerticalHeaderLabels([label for _, label in ROWS])
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        rows = self.table.verticalHeader()  # every row shown: the dock scrolls the panel, never the table
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + rows.length()
                                    + 2 * self.table.frameWidth())
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.pin_a, self.pin_b = QPushButton("Pin A", self), QPushButton("Pin B", self)
        self.export_button = QPushButton("Export…", self)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Region"))
        buttons.addWidget(self.source, 1)
        for b in (self.pin_a, self.pin_b, self.export_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.origin)
        layout.addWidget(self.table)
        self.source.currentIndexChanged.connect(lambda _i: self.analytics and self.analytics.set_source(
            self.source.currentData()))
        self.pin_a.clicked.connect(lambda: self.analytics and self.analytics.pin("A"))
        self.pin_b.clicked.connect(lambda: self.analytics and self.analytics.pin("B"))
        self.set_document(None)

    def set_document(self, doc: Document | None) -> None:
        if self.analytics is not None:
            self.analytics.doc.events.result.disconnect(self._show_origin)
            self.analytics.close()
        self.analytics = None if doc is None else RegionAnalytics(doc, self.source.currentData())
        self.setEnabled(doc is not None)
        if self.analytics is not None:
            self.analytics.events.changed.connect(lambda _a: self.refresh())
            self.analytics.events.pins.connect(lambda _p: self.refresh())
            doc.events.result.connect(self._show_origin)
            self._show_origin(doc.result)
        self.refresh()

    def export(self, path) -> None:
        """Write the shown numbers (.csv or .json); raises GPSTokenError with a one-line reason."""
        if self.analytics is None:
            raise GPSTokenError("no document is open")
        self.analytics.export(path)

    def refresh(self) -> None:
        a = self.analytics
        reports = (None,) * 5 if a is None else (a.after, a.before, None, a.pins.get("A"), a.pins.get("B"))
        for r, (key, _) in enumerate(ROWS):
            values = [_value(rep, key) for rep in reports]
            values[2] = None if values[0] is None or values[1] is None else values[0] - values[1]
            for c, v in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(_format(key, v, signed=c == 2)))
        self.pin_a.setEnabled(a is not None and a.after is not None)
        self.pin_b.setEnabled(a is not None and a.after is not None)

    def text(self, key: str, column: str = "after") -> str:
        r = [k for k, _ in ROWS].index(key)
        return self.table.item(r, COLUMNS.index(column)).text()

    def _show_origin(self, result: Result | None) -> None:
        self.origin.setText(origin_text(result))


def origin_text(result: Result | None) -> str:
    """Where the numbers come from: the engine, and for fitting whether the fit started fresh from the partition or
    warm from the previous result (then the number depends on the edit history)."""
    if result is None or result.partial:
        return "—"
    if result.engine != "fit":
        return f"{result.engine} engine: {len(result.rows)} tokens (deterministic: no warm start)"
    if result.warm_start:
        return (f"fit engine: warm-started from the previous result ({len(result.rows)} tokens): "
                "depends on the edit history; a sweep fits fresh")
    return f"fit engine: fresh fit from the partition ({len(result.rows)} tokens)"


def _value(report: RegionReport | None, key: str):
    if report is None:
        return None
    if key in ("tokens", "area_share"):
        return getattr(report, key)
    return report.metrics.get(key)


def _format(key: str, value, signed: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "∞"
    sign = "+" if signed else ""
    if key == "tokens":
        return f"{value:{sign}d}"
    if key == "area_share":
        return f"{100 * value:{sign}.1f} %"
    return f"{value:{sign}.2f}" if key.startswith("psnr") else f"{value:{sign}.4f}"
