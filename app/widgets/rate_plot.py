"""Rate-quality plot (pyqtgraph): PSNR against the number of tokens, one curve per series of a ``RateBook``
(engine, checkpoint, min-size, lambda, steps, fresh or warm start, bias: everything but the count)."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gpstoken_studio.model.rate_records import RateBook

COLORS = ((90, 200, 255), (255, 120, 220), (250, 200, 80), (120, 230, 140), (200, 160, 255), (255, 140, 100))


class RatePlot(QWidget):
    """Draws a ``RateBook``: a curve per series, the record of what the document shows ringed.

    The x axis is log2(total tokens) with plain token counts as tick labels.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="#1b1c20")
        self.plot.setLabel("bottom", "tokens")
        self.plot.setLabel("left", "PSNR", units="dB")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.addLegend(offset=(6, 6))
        # the last tick label is centred on the axis's end: leave it room inside the dock
        room = QFontMetrics(self.plot.font()).horizontalAdvance("4096") // 2 + 2
        self.plot.getPlotItem().layout.setContentsMargins(1, 1, room, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.book: RateBook | None = None
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._current = pg.ScatterPlotItem(size=13, pen=pg.mkPen("w", width=1.5), brush=None)
        self.plot.addItem(self._current)

    def set_book(self, book: RateBook) -> None:
        self.book = book
        book.events.changed.connect(lambda _b: self.redraw())
        self.redraw()

    def redraw(self) -> None:
        series = self.book.series() if self.book is not None else {}
        for name in list(self._curves):
            if name not in series:
                self.plot.removeItem(self._curves.pop(name))
        for name, records in series.items():
            curve = self._curves.get(name)
            if curve is None:
                color = COLORS[len(self._curves) % len(COLORS)]
                curve = self.plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                                       symbolBrush=color, name=name)
                self._curves[name] = curve
            curve.setData([math.log2(r.tokens) for r in records], [r.psnr for r in records])
        current = self.book.current if self.book is not None else None
        self._current.setData(*(([math.log2(current.tokens)], [current.psnr]) if current else ([], [])))
        if series:
            self._fit_range([r for records in series.values() for r in records])

    def _fit_range(self, records) -> None:
        xs, ys = [r.tokens for r in records], [r.psnr for r in records]
        lo, hi = math.floor(math.log2(min(xs))) - 0.5, math.ceil(math.log2(max(xs))) + 0.5
        self.plot.setXRange(lo, hi, padding=0)
        self.plot.setYRange(min(ys) - 1.0, max(ys) + 1.0, padding=0)
        ticks = [(k, str(2 ** k)) for k in range(math.ceil(lo), math.floor(hi) + 1)]
        self.plot.getAxis("bottom").setTicks([ticks, []])
