"""Generation overlays: the layout before calibration as ghost ellipses on the left view, and the staged
candidate (or the live preview of one being sampled) over the right view."""
from __future__ import annotations

import numpy as np

from gpstoken_studio.model.document import Document
from gpstoken_studio import style
from gpstoken_studio.views.canvas import StudioCanvas
from gpstoken_studio.views.ellipse_visual import Ellipses
from gpstoken_studio.views.image_view import pixel_image


class StagingView:
    """Owned by the Generate panel; outlives documents (``clear`` on a document change)."""

    def __init__(self, canvas: StudioCanvas) -> None:
        self.canvas = canvas
        self.ghost = Ellipses(parent=canvas.left.scene, width=1.6)
        self.ghost.order = 45
        self.ghost.visible = False
        self.image = pixel_image(canvas.right.scene, np.zeros((2, 2, 3), np.uint8))
        self.image.order = 60  # above the reconstruction and its error map
        self.image.visible = False
        self.ghost_count = 0
        self._title = ""  # the right view's title while a candidate covers it

    def show_ghost(self, doc: Document | None, geometry: np.ndarray | None) -> None:
        """Draw ``geometry [K, 5]`` (the layout before calibration) in the ghost colour, or hide it."""
        if doc is None or geometry is None or not len(geometry):
            self.ghost.visible = False
            self.ghost_count = 0
            return
        self.ghost.set_data(doc.plane.drawn_ellipses(np.asarray(geometry, np.float32)), style.GHOST)
        self.ghost.visible = True
        self.ghost_count = len(geometry)

    def set_ghost_visible(self, visible: bool) -> None:
        self.ghost.visible = visible and self.ghost_count > 0

    def show_image(self, image: np.ndarray | None, title: str = "") -> None:
        """Show a staged candidate or a preview over the right view (None: the reconstruction again)."""
        label = self.canvas.right_title
        if image is not None:
            if not self.image.visible:
                self._title = label.text
            self.image.set_data(np.ascontiguousarray(image))
            label.text = title
        elif self.image.visible:
            label.text = self._title
        self.image.visible = image is not None

    def clear(self) -> None:
        self.show_ghost(None, None)
        self.show_image(None)
