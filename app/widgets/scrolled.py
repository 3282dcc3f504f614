"""A panel in a vertical scroll area: a tall panel scrolls inside its dock instead of growing the window."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


def scrolled(panel: QWidget) -> QScrollArea:
    """``panel`` filling a scroll area as wide as the panel needs (it scrolls vertically only)."""
    area = QScrollArea()
    area.setFrameShape(QFrame.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(panel)
    area.setMinimumWidth(panel.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area
