"""Token count slider (log scale) with its spin box, and lambda: both re-partition live.

While the slider is held, each step is a ``final=False`` SetTokenCount merged into one undo step;
release commits it with ``final=True`` (the full path). The painted bias is kept.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from gpstoken.partition import max_regions
from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document

SLIDER_STEPS = 1000
MIN_TOKENS = 4


class TokenControls(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self._max = 1024
        self._gesture: object | None = None
        self._pending = False  # a non-final update awaits the release
        self.slider = QSlider(Qt.Horizontal, self)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setMinimumWidth(160)
        self.slider.setToolTip("Tokens per tile (re-partitions live; PageUp/PageDown double/halve)")
        self.spin = QSpinBox(self)
        self.spin.setKeyboardTracking(False)
        self.lam = QDoubleSpinBox(self)
        self.lam.setRange(0.0, 8.0)
        self.lam.setSingleStep(0.25)
        self.lam.setKeyboardTracking(False)
        self.lam.setToolTip("Lambda: entropy exponent of the partition")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Tokens"))
        layout.addWidget(self.slider)
        layout.addWidget(self.spin)
        layout.addWidget(QLabel("λ"))
        layout.addWidget(self.lam)
        self.slider.sliderPressed.connect(self._on_press)
        self.slider.sliderReleased.connect(self._on_release)
        self.slider.valueChanged.connect(
            lambda v: self._set_count(self.count_of(v), final=not self.slider.isSliderDown()))
        self.spin.valueChanged.connect(lambda n: self._set_count(n, final=True))
        self.lam.valueChanged.connect(self._set_lambda)
        self.setEnabled(False)

    # --- slider scale ---------------------------------------------------------------------------

    def count_of(self, value: int) -> int:
        return int(round(MIN_TOKENS * (self._max / MIN_TOKENS) ** (value / SLIDER_STEPS)))

    def value_of(self, count: int) -> int:
        span = math.log(self._max / MIN_TOKENS)
        return int(round(SLIDER_STEPS * math.log(max(count, MIN_TOKENS) / MIN_TOKENS) / span))

    # --- binding --------------------------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.events.settings.disconnect(self.refresh)
        self.doc = doc
        self.setEnabled(doc is not None)
        if doc is not None:
            th, tw = doc.plane.tile_hw
            self._max = max_regions(th, tw, doc.settings.min_size)
            with QSignalBlocker(self.spin):
                self.spin.setRange(1, self._max)
            doc.events.settings.connect(self.refresh)
            self.refresh()

    def refresh(self, *_args) -> None:
        s = self.doc.settings
        values = ((self.slider, self.value_of(s.tokens_per_tile)), (self.spin, s.tokens_per_tile), (self.lam, s.lam))
        for w, v in values:
            with QSignalBlocker(w):
                w.setValue(v)

    def step(self, factor: float) -> None:
        """Multiply the token count (keyboard PageUp/PageDown)."""
        if self.doc is not None:
            n = int(min(max(round(self.doc.settings.tokens_per_tile * factor), 1), self._max))
            self._set_count(n, final=True)

    def _on_press(self) -> None:
        self._gesture = object()

    def _on_release(self) -> None:
        if self._pending and self.doc is not None:
            self._push(commands.set_token_count(self.doc, self.count_of(self.slider.value()), final=True,
                                                merge_id=self._gesture))
        self._gesture = None
        self._pending = False

    def _set_count(self, n: int, final: bool) -> None:
        doc = self.doc
        if doc is None or not len(doc.layout) or n == doc.settings.tokens_per_tile:
            return
        self._pending = not final
        self._push(commands.set_token_count(doc, n, final=final, merge_id=self._gesture))

    def _set_lambda(self, lam: float) -> None:
        doc = self.doc
        if doc is not None and len(doc.layout) and lam != doc.settings.lam:
            self._push(commands.set_lambda(doc, lam))

    def _push(self, cmd) -> None:
        self.doc.history.push(cmd)
