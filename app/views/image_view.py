"""The document image, with pixel centres at integer plane coordinates."""
from __future__ import annotations

from vispy import scene
from vispy.visuals.transforms import STTransform

from gpstoken_studio.model.document import Document


def pixel_image(parent, data=None, **kwargs) -> scene.visuals.Image:
    """An Image visual whose pixel (col, row) is centred at plane (x, y) = (col, row).

    Images lie in one plane: with the depth test on, the first one drawn would hide those of higher
    ``order`` (swipe, staged candidate); off, they stack by ``order`` like the overlays.
    """
    image = scene.visuals.Image(data, parent=parent, interpolation="nearest", **kwargs)
    image.transform = STTransform(translate=(-0.5, -0.5))
    image.update_gl_state(depth_test=False)
    return image


class ImageView:
    """The original image (replaced only when a generated candidate is accepted, or that is undone)."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = pixel_image(parent, doc.image)
        self.node.order = 10
        doc.events.image.connect(self.node.set_data)

    def close(self) -> None:
        self.doc.events.image.disconnect(self.node.set_data)
        self.node.parent = None
