"""Token count slider (log scale) with its spin box, and lambda: both re-partition live.

While the slider is held, each step asks the session for a preview (re-partitioned on its worker, latest
wins); the release records the count as one undo step. The painted bias is kept.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from gpstoken.partition import max_partition_regions
from gpstoken_studio.model.document import Document
from gpstoken_studio.session import Session

SLIDER_STEPS = 1000
MIN_TOKENS = 4


class TokenControls(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.session: Session | None = None  # set by the window: where the counts go
        self._max = 1024
        self._pending = False  # a previewed count awaits the release
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
            self._max = max_partition_regions(th, tw, doc.settings.min_size)
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

    def _on_release(self) -> None:
        if self._pending and self.doc is not None:
            self.session.set_token_count(self.count_of(self.slider.value()))
        self._pending = False

    def _set_count(self, n: int, final: bool) -> None:
        if self.doc is None:
            return
        self._pending = not final
        self.session.set_token_count(n, preview=not final)

    def _set_lambda(self, lam: float) -> None:
        if self.doc is not None:
            self.session.set_lambda(lam)
