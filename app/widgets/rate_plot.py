"""Rate-quality plot (pyqtgraph): PSNR against the number of tokens, one curve per engine."""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gpstoken_studio.model.result import Result

COLORS = {"fit": (90, 200, 255), "model": (255, 120, 220)}


class RatePlot(QWidget):
    """Keeps the latest PSNR per (engine, token count); the document's current result is ringed.

    The x axis is log2(tokens) with plain token counts as tick labels.
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
        self.points: dict[str, dict[int, float]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._current = pg.ScatterPlotItem(size=13, pen=pg.mkPen("w", width=1.5), brush=None)
        self.plot.addItem(self._current)

    def clear(self) -> None:
        self.points.clear()
        for curve in self._curves.values():
            curve.setData([], [])
        self._current.setData([], [])

    def add_result(self, result: Result, current: bool = True) -> None:
        """Record the PSNR of a full result (``current``: it is what the document shows)."""
        psnr = result.metrics.get("psnr")
        if psnr is None or not math.isfinite(psnr):
            return
        n = len(result.rows)
        series = self.points.setdefault(result.engine, {})
        series[n] = float(psnr)
        xs = sorted(series)
        curve = self._curves.get(result.engine)
        if curve is None:
            color = COLORS.get(result.engine, (220, 220, 220))
            curve = self.plot.plot([], [], pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                                   symbolBrush=color, name=result.engine)
            self._curves[result.engine] = curve
        curve.setData([math.log2(x) for x in xs], [series[x] for x in xs])
        if current:
            self._current.setData([math.log2(n)], [float(psnr)])
        self._fit_range()

    def _fit_range(self) -> None:
        xs = [n for series in self.points.values() for n in series]
        ys = [v for series in self.points.values() for v in series.values()]
        lo, hi = math.floor(math.log2(min(xs))) - 0.5, math.ceil(math.log2(max(xs))) + 0.5
        self.plot.setXRange(lo, hi, padding=0)
        self.plot.setYRange(min(ys) - 1.0, max(ys) + 1.0, padding=0)
        ticks = [(k, str(2 ** k)) for k in range(math.ceil(lo), math.floor(hi) + 1)]
        self.plot.getAxis("bottom").setTicks([ticks, []])
