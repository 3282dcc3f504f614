"""Images side by side at a size you choose: a filmstrip (one row) or a grid (rows wrap to the width).

Used for the reconstructions of a sweep across token counts and for judging generated candidates.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget


class ImageGrid(QListWidget):
    """Labelled uint8 RGB images as icons of ``size`` px (aspect kept); ``picked`` gives a clicked image's index."""

    picked = Signal(int)

    def __init__(self, size: int = 160, wrap: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.images: list[np.ndarray] = []
        self.keys: list[object] = []
        self.setViewMode(QListWidget.IconMode)
        self.setMovement(QListWidget.Static)
        self.setResizeMode(QListWidget.Adjust)
        self.setFlow(QListWidget.LeftToRight)
        self.setWrapping(wrap)
        self.set_size(size)
        self.currentRowChanged.connect(lambda row: row >= 0 and self.picked.emit(row))

    def set_size(self, size: int) -> None:
        self.setIconSize(QSize(size, size))
        self.setGridSize(QSize(size + 12, size + 30))
        if not self.isWrapping():
            self.setFixedHeight(size + 48)
        for item, image in zip((self.item(i) for i in range(self.count())), self.images):
            item.setIcon(QIcon(to_pixmap(image, size)))

    def put(self, key, label: str, image: np.ndarray) -> int:
        """Show ``image`` under ``label``, in place of the image of an equal ``key``; returns its index."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        icon = QIcon(to_pixmap(image, self.iconSize().width()))
        if key in self.keys:
            i = self.keys.index(key)
            self.images[i] = image
            self.item(i).setIcon(icon)
            self.item(i).setText(label)
            return i
        self.images.append(image)
        self.keys.append(key)
        self.addItem(QListWidgetItem(icon, label))
        return self.count() - 1

    def remove_all(self) -> None:
        self.images, self.keys = [], []
        self.clear()

    def shown(self, index: int) -> np.ndarray:
        """The icon of image ``index`` as drawn, uint8 ``[h, w, 3]`` (what a person sees in the grid)."""
        size = self.iconSize()
        pixmap = self.item(index).icon().pixmap(size)
        qimage = pixmap.toImage().convertToFormat(QImage.Format_RGB888)
        w, h, stride = qimage.width(), qimage.height(), qimage.bytesPerLine()
        data = np.frombuffer(qimage.constBits(), np.uint8, count=stride * h).reshape(h, stride)
        return data[:, : w * 3].reshape(h, w, 3).copy()


def to_pixmap(image: np.ndarray, side: int) -> QPixmap:
    """An RGB uint8 image as a pixmap that fits a square of ``side`` pixels (aspect kept)."""
    a = np.ascontiguousarray(image, np.uint8)
    q = QImage(a.data, a.shape[1], a.shape[0], 3 * a.shape[1], QImage.Format_RGB888).copy()  # the array may go
    return QPixmap.fromImage(q).scaled(side, side, Qt.KeepAspectRatio, Qt.SmoothTransformation)
