"""A dark Fusion palette, so the panels match the dark canvas."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_COLORS = {
    QPalette.Window: "#232428", QPalette.WindowText: "#dcdde1", QPalette.Base: "#1b1c20",
    QPalette.AlternateBase: "#26272c", QPalette.ToolTipBase: "#2c2d33", QPalette.ToolTipText: "#e8e9ed",
    QPalette.Text: "#dcdde1", QPalette.Button: "#2c2d33", QPalette.ButtonText: "#dcdde1",
    QPalette.BrightText: "#ff6b6b", QPalette.Highlight: "#3d7fd9", QPalette.HighlightedText: "#ffffff",
    QPalette.PlaceholderText: "#8a8c93",
}


def apply_dark_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in _COLORS.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        palette.setColor(QPalette.Disabled, role, QColor("#6d6f76"))
    app.setPalette(palette)
