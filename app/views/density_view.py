"""The painted density bias as a translucent orange overlay (hidden while nothing is painted)."""
from __future__ import annotations

from vispy import scene
from vispy.color import Colormap

from gpstoken_studio.model.bias import BiasChange
from gpstoken_studio.model.document import Document
from gpstoken_studio import style
from gpstoken_studio.views.image_view import pixel_image

DENSITY_CMAP = Colormap([(*style.DENSITY, 0.0), (*style.DENSITY, style.DENSITY_ALPHA)])


class DensityView:
    """One float channel through a transparent-to-orange colour map: a quarter of the upload of RGBA,
    and no full-image translucent draw at all until something is painted."""

    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = pixel_image(parent, doc.bias.values(), cmap=DENSITY_CMAP, clim=(0.0, 1.0))
        self.node.order = 30
        self.node.set_gl_state("translucent", depth_test=False)
        self.visible = True  # the layer switch; the node is drawn only when it is on and something is painted
        doc.bias.changed.connect(self._refresh)
        self._refresh()

    def set_visible(self, visible: bool) -> None:
        self.visible = visible
        self.node.visible = visible and self.doc.bias.painted()

    def _refresh(self, change: BiasChange | None = None) -> None:
        self.node.set_data(self.doc.bias.values())
        self.node.visible = self.visible and self.doc.bias.painted()

    def close(self) -> None:
        self.doc.bias.changed.disconnect(self._refresh)
        self.node.parent = None
