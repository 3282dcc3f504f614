"""Inspector: the selected Gaussians' parameters (editable for one whose geometry is not locked), area,
feature norm and locks (geometry: tools, handles and fits leave it as it is; features: fits keep them)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY

# (label, unit, min, max, decimals) of the editable fields, in plane pixels except rho
FIELDS = (
    ("sigma_x", "px", 0.05, 4096.0, 2),
    ("sigma_y", "px", 0.05, 4096.0, 2),
    ("rho", "", -0.999, 0.999, 3),
    ("mu_x", "px", -1.0, 16384.0, 2),
    ("mu_y", "px", -1.0, 16384.0, 2),
)


class InspectorPanel(QWidget):
    """Model -> widgets with signals blocked; widget edits -> one ReshapeToken / SetLocks command."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        form = QFormLayout(self)
        self.title = QLabel("No selection")
        form.addRow(self.title)
        self.spins: dict[str, QDoubleSpinBox] = {}
        for name, unit, lo, hi, decimals in FIELDS:
            spin = QDoubleSpinBox(self)
            spin.setRange(lo, hi)
            spin.setDecimals(decimals)
            spin.setSingleStep(0.5 if unit else 0.05)
            spin.setKeyboardTracking(False)
            spin.setSpecialValueText("—")  # shown at the minimum: the value when nothing is selected
            spin.setSuffix(f" {unit}" if unit else "")
            spin.valueChanged.connect(self._on_edit)
            form.addRow(name, spin)
            self.spins[name] = spin
        self.area = QLabel("—")
        self.feature_norm = QLabel("—")
        self.region = QLabel("—")
        form.addRow("area (1σ)", self.area)
        form.addRow("feature norm", self.feature_norm)
        form.addRow("region", self.region)
        self.lock_geometry = QCheckBox("geometry")
        self.lock_features = QCheckBox("features")
        self.lock_geometry.clicked.connect(lambda on: self._on_lock(LOCK_GEOMETRY, on))
        self.lock_features.clicked.connect(lambda on: self._on_lock(LOCK_FEATURES, on))
        form.addRow("locks", self.lock_geometry)
        form.addRow("", self.lock_features)
        self.refresh()

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.layout.changed.disconnect(self.refresh)
            self.doc.layout.selection_changed.disconnect(self.refresh)
            self.doc.events.result.disconnect(self.refresh)
        self.doc = doc
        if doc is not None:
            doc.layout.changed.connect(self.refresh)
            doc.layout.selection_changed.connect(self.refresh)
            doc.events.result.connect(self.refresh)
        self.refresh()

    def selection(self) -> np.ndarray:
        return np.zeros(0, np.int64) if self.doc is None else self.doc.layout.selection()

    def refresh(self, *_args) -> None:
        sel = self.selection()
        single = len(sel) == 1
        editable = single and not self.doc.layout.locks()[sel[0]] & LOCK_GEOMETRY
        for spin in self.spins.values():
            spin.setEnabled(bool(editable))
        for box in (self.lock_geometry, self.lock_features):
            box.setEnabled(len(sel) > 0)
        if not len(sel):
            self.title.setText("No selection")
            for spin in self.spins.values():
                with QSignalBlocker(spin):
                    spin.setValue(spin.minimum())
            for label in (self.area, self.feature_norm, self.region):
                label.setText("—")
            return
        doc = self.doc
        g = doc.layout.geometry()[sel]
        values = self._values(g)
        self.title.setText(f"Token {sel[0]}" if single else f"{len(sel)} tokens selected (means shown)")
        for name, spin in self.spins.items():
            with QSignalBlocker(spin):
                spin.setValue(float(values[name].mean()))
        s = doc.plane.sigmas_px(g)
        self.area.setText(f"{float(np.mean(np.pi * s[:, 0] * s[:, 1])):.1f} px²")
        self.feature_norm.setText(self._feature_norm(sel))
        r = doc.layout.regions()[sel[0]]
        self.region.setText(f"({r[0]}, {r[1]}) – ({r[2]}, {r[3]})" if single else "—")
        locks = doc.layout.locks()[sel]
        for box, bit in ((self.lock_geometry, LOCK_GEOMETRY), (self.lock_features, LOCK_FEATURES)):
            with QSignalBlocker(box):
                box.setChecked(bool((locks & bit).all()))

    def _values(self, g: np.ndarray) -> dict[str, np.ndarray]:
        c = self.doc.plane.centers(g)
        s = self.doc.plane.sigmas_px(g)
        return {"sigma_x": s[:, 0], "sigma_y": s[:, 1], "rho": g[:, 2], "mu_x": c[:, 0], "mu_y": c[:, 1]}

    def _feature_norm(self, sel: np.ndarray) -> str:
        result = self.doc.result
        if result is None:
            return "—"
        tokens = result.tokens_by_row(len(self.doc.layout))[sel]
        norms = np.linalg.norm(tokens[:, 5:], axis=1)
        norms = norms[np.isfinite(norms)]
        return f"{float(norms.mean()):.3f} ({result.features})" if norms.size else "—"

    def _on_edit(self, *_args) -> None:
        sel = self.selection()
        if len(sel) != 1:
            return
        v = {name: spin.value() for name, spin in self.spins.items()}
        g = self.doc.plane.gaussian(np.array([v["mu_x"], v["mu_y"]]), np.array([v["sigma_x"], v["sigma_y"]]), v["rho"])
        if not np.array_equal(g, self.doc.layout.geometry()[sel[0]]):
            self.doc.history.push(commands.reshape_tokens(self.doc, sel, g[None]))

    def _on_lock(self, bit: int, on: bool) -> None:
        cmd = commands.set_locks(self.doc, self.selection(), bit, on)
        if cmd is not None:
            self.doc.history.push(cmd)
