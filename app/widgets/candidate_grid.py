"""Generated candidates side by side, large enough to judge: a grid that follows the Generate panel's staging
strip; clicking one stages it (shown over the right view at full size), Accept takes the chosen one."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout
from shiboken6 import isValid

from gpstoken_studio.widgets.image_grid import ImageGrid

if TYPE_CHECKING:
    from gpstoken_studio.widgets.generate_panel import GeneratePanel

DEFAULT_SIDE = 256  # the generators' tile: every pixel of a candidate is shown


class CandidateGrid(QDialog):
    def __init__(self, panel: "GeneratePanel") -> None:
        super().__init__(panel, Qt.Window)
        self.setWindowTitle("Candidates")
        self.panel = panel
        self.grid = ImageGrid(DEFAULT_SIDE, wrap=True, parent=self)
        self.side = QSpinBox(self)
        self.side.setRange(96, 1024)
        self.side.setSingleStep(32)
        self.side.setValue(DEFAULT_SIDE)
        self.side.setSuffix(" px")
        self.accept_button = QPushButton("Accept", self)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Size"))
        controls.addWidget(self.side)
        controls.addStretch(1)
        controls.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.grid, 1)
        self.resize(3 * (DEFAULT_SIDE + 12) + 40, 2 * (DEFAULT_SIDE + 30) + 80)
        self.side.valueChanged.connect(self.grid.set_size)
        self.grid.picked.connect(panel.strip.setCurrentRow)
        self.accept_button.clicked.connect(lambda: panel.accept(self.grid.currentRow()))
        strip = panel.strip.model()
        for signal in (strip.rowsInserted, strip.rowsRemoved, strip.modelReset):
            signal.connect(self._on_strip_changed)
        self.refresh()

    def _on_strip_changed(self, *_args) -> None:
        if isValid(self.panel.strip) and isValid(self.grid):  # not while the panel is being torn down
            self.refresh()

    def refresh(self) -> None:
        """Show the strip's candidates, in its order and with its labels."""
        strip = self.panel.strip
        self.grid.remove_all()
        for i, cand in enumerate(self.panel.candidates[: strip.count()]):
            self.grid.put(id(cand), strip.item(i).text(), cand.image)
