"""The painted density bias as a translucent orange overlay."""
from __future__ import annotations

import numpy as np
from vispy import scene

from gpstoken_studio.model.bias import BiasChange
from gpstoken_studio.model.document import Document
from gpstoken_studio.views import style
from gpstoken_studio.views.image_view import pixel_image


def density_rgba(values: np.ndarray) -> np.ndarray:
    """Bias ``[H, W]`` in [0, 1] -> RGBA float32 ``[H, W, 4]``."""
    out = np.empty(values.shape + (4,), np.float32)
    out[..., :3] = style.DENSITY
    out[..., 3] = np.clip(values, 0, 1) * style.DENSITY_ALPHA
    return out


class DensityView:
    def __init__(self, doc: Document, parent: scene.Node) -> None:
        self.doc = doc
        self.node = pixel_image(parent, density_rgba(doc.bias.values()))
        self.node.order = 30
        self.node.set_gl_state("translucent", depth_test=False)
        doc.bias.changed.connect(self._refresh)

    def _refresh(self, change: BiasChange | None = None) -> None:
        self.node.set_data(density_rgba(self.doc.bias.values()))

    def close(self) -> None:
        self.doc.bias.changed.disconnect(self._refresh)
        self.node.parent = None
