"""The tool bars: tools, token controls, engine and brush; beside it (or below, when the window is
narrow) the view bar: swipe and right-view mode."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QSlider, QSpinBox, QToolBar, QWidget

from gpstoken_studio.widgets.token_controls import TokenControls


class StudioToolBar(QToolBar):
    def __init__(self, tool_actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__("Tools", parent)
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for qa in tool_actions:
            self.addAction(qa)
        self.addSeparator()
        self.tokens = TokenControls(self)
        self.addWidget(self.tokens)
        self.addSeparator()
        self.addWidget(QLabel(" Engine "))
        self.engine = QComboBox(self)
        self.engine.setToolTip("fit: per-image fitting (no weights); model: a tokenizer checkpoint (--model)")
        self.addWidget(self.engine)
        self.addWidget(QLabel(" steps "))
        self.steps = QSpinBox(self)
        self.steps.setRange(0, 5000)
        self.steps.setKeyboardTracking(False)
        self.steps.setToolTip("Fit steps of the full path after each edit")
        self.addWidget(self.steps)
        self.addSeparator()
        self.addWidget(QLabel(" Brush "))
        self.brush = QDoubleSpinBox(self)
        self.brush.setRange(1.0, 512.0)
        self.brush.setDecimals(0)
        self.brush.setSuffix(" px")
        self.brush.setToolTip("Brush radius ([ and ] change it)")
        self.addWidget(self.brush)
        self.strength = QDoubleSpinBox(self)
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setDecimals(2)
        self.strength.setToolTip("Brush strength: the density bias a stroke paints (0.05 - 1)")
        self.addWidget(self.strength)


class ViewToolBar(QToolBar):
    """Swipe handle and right-view mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("View", parent)
        self.setMovable(False)
        self.addWidget(QLabel(" Swipe "))
        self.swipe = QSlider(Qt.Horizontal, self)
        self.swipe.setRange(0, 100)
        self.swipe.setMaximumWidth(110)
        self.swipe.setToolTip("Show the reconstruction over the original, left of the handle")
        self.addWidget(self.swipe)
        self.right_mode = QComboBox(self)
        self.right_mode.addItems(["Reconstruction", "Error heatmap", "Error heatmap (fixed scale)"])
        self.right_mode.setToolTip("Right view: the reconstruction, or |error| on a scale that adapts to the map "
                                   "or on the fixed 0-0.25 scale (runs compare)")
        self.addWidget(self.right_mode)

    def right_view(self) -> tuple[str, bool]:
        """The chosen right view: ``("reconstruction" | "error", fixed_scale)``."""
        i = self.right_mode.currentIndex()
        return ("error" if i else "reconstruction"), i == 2
