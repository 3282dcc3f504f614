"""The live reconstruction (or its error map) beside the canvas, the result's metrics as text, and over
them a staged generated candidate or the preview of one being sampled (as in the desktop window)."""
from __future__ import annotations

import numpy as np
import panel as pn
from bokeh.models import ColorBar, ColumnDataSource, LinearColorMapper
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from gpstoken_studio.model.document import Document
from gpstoken_studio.model.result import Result
from gpstoken_studio.session import Session
from gpstoken_studio import style
from gpstoken_studio.web import glyphs
from gpstoken_studio.web.canvas import BACKEND, Canvas

VIEWS = ("Reconstruction", "Error map", "Error map (fixed scale)")  # as the window's right-view choice


def metrics_text(doc: Document | None, result: Result | None) -> str:
    """One line about the shown result: engine, tokens, PSNR / SSIM, the revision it belongs to."""
    if doc is None:
        return "No image open"
    if result is None:
        return f"revision {doc.revision}: waiting for the engine..."
    m = result.metrics
    parts = [f"{result.engine} ({result.path}{', partial' if result.partial else ''})", f"{len(result.rows)} tokens"]
    if "psnr" in m:
        parts.append(f"PSNR {m['psnr']:.2f} dB")
    if "ssim" in m:
        parts.append(f"SSIM {m['ssim']:.4f}")
    parts.append(f"revision {result.revision}/{doc.revision}")
    return " · ".join(parts)


class ResultView:
    """Shows the session's result; pans and zooms with the canvas (shared ranges)."""

    def __init__(self, session: Session, canvas: Canvas) -> None:
        self.session = session
        self.doc: Document | None = None
        self.figure = figure(x_range=canvas.x_range, y_range=canvas.y_range, frame_width=canvas.figure.frame_width,
                             frame_height=canvas.figure.frame_height, tools="", toolbar_location=None,
                             background_fill_color=style.BACKGROUND, border_fill_color=style.BACKGROUND,
                             output_backend=BACKEND, name="result")
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self._canvas = canvas
        self.recon = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "w": [1], "h": [1]})
        self.error = ColumnDataSource({"image": [np.zeros((1, 1), np.float32)], "w": [1], "h": [1]})
        self.recon_renderer = self.figure.image_rgba("image", x=-0.5, y=-0.5, dw="w", dh="h", source=self.recon)
        self.mapper = LinearColorMapper(palette=Viridis256, low=style.ERROR_SCALE[0], high=style.ERROR_SCALE[1])
        self.error_renderer = self.figure.image("image", x=-0.5, y=-0.5, dw="w", dh="h", source=self.error,
                                                color_mapper=self.mapper, visible=False)
        self.colorbar = ColorBar(color_mapper=self.mapper, orientation="horizontal", height=8, visible=False,
                                 title="|error|", background_fill_color=style.BACKGROUND,
                                 major_label_text_color="white", title_text_color="white")
        self.figure.add_layout(self.colorbar, "below")
        self.staged = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "w": [1], "h": [1]})
        self.staged_renderer = self.figure.image_rgba("image", x=-0.5, y=-0.5, dw="w", dh="h", source=self.staged,
                                                      visible=False, name="gps-staged")
        self.staged_title = pn.pane.Str("", css_classes=["gps-staged-title"], width=300, height=24)
        self.choice = pn.widgets.RadioButtonGroup(options=list(VIEWS), value=VIEWS[0], button_type="default",
                                                  name="result view")
        self.choice.param.watch(lambda e: self._show(e.new), "value")
        self.metrics = pn.pane.Markdown(metrics_text(None, None), css_classes=["gps-metrics"], margin=(0, 10),
                                       width=600, height=28)
        self.layout = pn.Column(pn.Row(self.choice, self.staged_title), pn.pane.Bokeh(self.figure), self.metrics)
        session.events.document.connect(self.set_document)
        session.generation.events.staged.connect(self.show_staged)
        self.set_document(session.document)

    def set_document(self, doc: Document | None) -> None:
        self.show_staged(None)
        if self.doc is not None:
            self.doc.events.result.disconnect(self._on_result)
        self.doc = doc
        if doc is not None:
            doc.events.result.connect(self._on_result)
            self.figure.frame_width = self._canvas.figure.frame_width
            self.figure.frame_height = self._canvas.figure.frame_height
        self._on_result(None if doc is None else doc.result)

    def _on_result(self, result: Result | None) -> None:
        doc = self.doc
        self.metrics.object = metrics_text(doc, result)
        if doc is None:
            return
        h, w = doc.image_size
        if result is None:  # nothing yet: show the image dimmed
            self.recon.data = {"image": [glyphs.rgba_image(doc.image, 0.3)], "w": [w], "h": [h]}
            return
        self.recon.data = {"image": [glyphs.rgba_image(result.reconstruction)], "w": [w], "h": [h]}
        if self.error_renderer.visible:
            error = style.error_map(doc.image, result.reconstruction)
            self.error.data = {"image": [error], "w": [w], "h": [h]}
            fixed = self.choice.value == VIEWS[2]
            low, high = style.error_scale(error, fixed)
            self.mapper.update(low=low, high=high)
            self.colorbar.title = f"|error| in image units, {'fixed' if fixed else 'adaptive'} scale"

    def toggle_error(self) -> None:
        """Switch between the reconstruction and its error map (the window's key 5)."""
        self.choice.value = VIEWS[1] if self.choice.value == VIEWS[0] else VIEWS[0]

    def _show(self, view: str) -> None:
        error = view != VIEWS[0]
        self.error_renderer.visible, self.recon_renderer.visible = error, not error
        self.colorbar.visible = error
        if error and self.doc is not None and self.doc.result is not None:
            self._on_result(self.doc.result)

    def show_staged(self, image: np.ndarray | None, title: str = "") -> None:
        """A candidate or a generation preview ``[S, S, 3]`` over the result (None: the result again)."""
        if image is not None and self.doc is not None:
            h, w = self.doc.image_size
            self.staged.data = {"image": [glyphs.rgba_image(image)], "w": [w], "h": [h]}
        self.staged_renderer.visible = image is not None and self.doc is not None
        self.staged_title.object = title if self.staged_renderer.visible else ""
