"""The editing canvas: the image, partition boxes, g_init and refined ellipses, the density overlay
and the tool overlay as Bokeh glyphs that follow the session's document.

Data coordinates are plane pixels (x right, y down: the y range runs from the bottom row up to -0.5).
A drag updates only the dragged rows (``ColumnDataSource.patch``); re-partitions replace whole columns.
"""
from __future__ import annotations

import numpy as np
from bokeh.models import ColumnDataSource, CustomJS, PanTool, Range1d, ResetTool, WheelZoomTool
from bokeh.plotting import figure

from gpstoken_studio.model.bias import BiasChange
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutChange
from gpstoken_studio.session import Session
from gpstoken_studio.tools.base import Mode
from gpstoken_studio.tools.handles import handle_points, handle_target
from gpstoken_studio import style
from gpstoken_studio.web import glyphs
from gpstoken_studio.web.pointer import PointerBridge

REBUILD = ("append", "truncate", "replace")  # layout changes that renumber rows
PATCH_LIMIT = 256  # more changed rows than this: send whole columns (cheaper than a long patch)
VIEW_WIDTH = 620  # screen pixels of the longer image side
# The lasso's trail, drawn by the browser as the pointer moves (the server's overlay is a round trip behind)
LASSO_TRAIL = """
if (!trail.tags.includes("lasso")) return;
if (cb_obj.event_name === "panstart") trail.data = {x: [cb_obj.x], y: [cb_obj.y]};
else if (cb_obj.event_name === "pan") trail.stream({x: [cb_obj.x], y: [cb_obj.y]});
else trail.data = {x: [], y: []};
"""
# Canvas 2D, not WebGL: Bokeh has no WebGL ellipse glyph, and in headless Chromium here (software GL) a full
# repaint of 4096 ellipses and boxes took 198 ms with WebGL against 22 ms with canvas (docs/web.md)
BACKEND = "canvas"


def frame_size(image_size: tuple[int, int], longest: int = VIEW_WIDTH) -> tuple[int, int]:
    """(width, height) in screen pixels of a view showing an image of ``image_size`` (H, W) at its aspect."""
    h, w = image_size
    scale = longest / max(h, w)
    return max(int(round(w * scale)), 64), max(int(round(h * scale)), 64)


def _patch(source: ColumnDataSource, rows: np.ndarray, columns: dict) -> None:
    source.patch({key: [(int(i), _plain(v)) for i, v in zip(rows, values)] for key, values in columns.items()})


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


class Canvas:
    """One browser tab's editing view of ``session``'s document."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.doc: Document | None = None
        self.x_range, self.y_range = Range1d(-0.5, 255.5), Range1d(255.5, -0.5)
        self.pan_tool = PanTool()
        w, h = frame_size((256, 256))
        self.figure = figure(x_range=self.x_range, y_range=self.y_range, frame_width=w, frame_height=h,
                             tools=[self.pan_tool, WheelZoomTool(), ResetTool()], active_drag=None,
                             active_scroll="auto", output_backend=BACKEND, toolbar_location="above",
                             background_fill_color=style.BACKGROUND, border_fill_color=style.BACKGROUND,
                             match_aspect=True, name="canvas")
        self.figure.axis.visible = False
        self.figure.grid.visible = False
        self.image = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "w": [1], "h": [1]})
        self.density = ColumnDataSource({"image": [np.zeros((1, 1), np.uint32)], "w": [1], "h": [1]})
        self.regions = ColumnDataSource({k: [] for k in ("x", "y", "width", "height")})
        self.ginit = ColumnDataSource({k: [] for k in ("x", "y", "width", "height", "angle", "color", "alpha", "fill")})
        self.refined = ColumnDataSource({k: [] for k in ("x", "y", "width", "height", "angle")})
        self.handles = ColumnDataSource({"x": [], "y": []})
        self.ghost = ColumnDataSource({k: [] for k in ("x", "y", "width", "height", "angle")})
        self.overlay_box = ColumnDataSource({k: [] for k in ("x", "y", "width", "height")})
        self.overlay_path = ColumnDataSource({"x": [], "y": []})
        self.lasso_trail = ColumnDataSource({"x": [], "y": []}, name="gps-lasso-trail")
        f = self.figure
        f.image_rgba("image", x=-0.5, y=-0.5, dw="w", dh="h", source=self.image)
        self.renderers = {
            "density": f.image_rgba("image", x=-0.5, y=-0.5, dw="w", dh="h", source=self.density),
            "regions": f.rect("x", "y", "width", "height", source=self.regions, fill_alpha=0,
                              line_color=glyphs.hex_color(style.REGIONS), line_alpha=style.REGIONS[3]),
            "refined": f.ellipse("x", "y", "width", "height", angle="angle", source=self.refined, fill_alpha=0,
                                 line_color=glyphs.hex_color(style.REFINED), line_alpha=float(style.REFINED[3])),
            "ginit": f.ellipse("x", "y", "width", "height", angle="angle", source=self.ginit, line_color="color",
                               line_alpha="alpha", fill_color="color", fill_alpha="fill", line_width=1.3),
        }
        f.ellipse("x", "y", "width", "height", angle="angle", source=self.ghost, fill_alpha=0, line_dash="dashed",
                  line_color=glyphs.hex_color(style.GHOST), line_alpha=float(style.GHOST[3]), line_width=1.5)
        f.scatter("x", "y", source=self.handles, size=9, fill_color=glyphs.hex_color(style.HANDLE), line_color="black")
        f.rect("x", "y", "width", "height", source=self.overlay_box, fill_alpha=0, line_color="white", line_dash="dashed")
        f.line("x", "y", source=self.overlay_path, line_color="white", line_dash="dashed")
        f.line("x", "y", source=self.lasso_trail, line_color="white", line_dash="dashed")
        trail = CustomJS(args={"trail": self.lasso_trail}, code=LASSO_TRAIL)
        for event in ("panstart", "pan", "panend"):
            f.js_on_event(event, trail)
        self._selected = np.zeros(0, bool)
        self.bridge = PointerBridge(session.tools, self.pixel_size)
        self.bridge.connect(f)
        self.x_range.on_change("start", lambda attr, old, new: self._on_handles())  # the rotate handle sits screen pixels out
        for key, visible in session.layers.items():
            self.renderers[key].visible = visible
        session.events.document.connect(self.set_document)
        session.events.layer.connect(self._on_layer)
        session.tools.mode_changed.connect(self._on_mode)
        session.tools.overlay.changed.connect(self._on_overlay)
        session.generation.events.ghost.connect(self._on_ghost)
        self.set_document(session.document)

    def zoom(self, factor: float) -> None:
        """Zoom about the view's centre (factor > 1 zooms in); the result view shares the ranges."""
        for r in (self.x_range, self.y_range):
            centre, half = (r.start + r.end) / 2, (r.end - r.start) / (2 * factor)
            r.update(start=centre - half, end=centre + half)

    def fit(self) -> None:
        """Show the whole image again."""
        for r in (self.x_range, self.y_range):
            r.update(start=r.reset_start, end=r.reset_end)

    def pixel_size(self) -> float:
        """Plane pixels per screen pixel at the current zoom."""
        return abs(self.x_range.end - self.x_range.start) / max(self.figure.frame_width or 1, 1)

    # --- document -------------------------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        old = self.doc
        if old is not None:
            old.layout.changed.disconnect(self._on_layout)
            old.layout.selection_changed.disconnect(self._on_selection)
            old.bias.changed.disconnect(self._on_bias)
            old.events.result.disconnect(self._on_result)
            old.events.image.disconnect(self._on_image)
        self.doc = doc
        if doc is None:
            return
        doc.layout.changed.connect(self._on_layout)
        doc.layout.selection_changed.connect(self._on_selection)
        doc.bias.changed.connect(self._on_bias)
        doc.events.result.connect(self._on_result)
        doc.events.image.connect(self._on_image)
        h, w = doc.image_size
        self.x_range.update(start=-0.5, end=w - 0.5, reset_start=-0.5, reset_end=w - 0.5)
        self.y_range.update(start=h - 0.5, end=-0.5, reset_start=h - 0.5, reset_end=-0.5)
        self.figure.frame_width, self.figure.frame_height = frame_size((h, w))
        self._on_image()
        self._on_bias()
        self._on_layout()
        self._on_result(doc.result)

    def _on_image(self, _image=None) -> None:
        h, w = self.doc.image_size
        self.image.data = {"image": [glyphs.rgba_image(self.doc.image)], "w": [w], "h": [h]}

    def _on_bias(self, change: BiasChange | None = None) -> None:
        """A stroke step sends only its box of the density overlay; anything else the whole overlay."""
        h, w = self.doc.image_size
        if change is None or self.density.data["w"][0] != w or self.density.data["h"][0] != h:
            self.density.data = {"image": [glyphs.density_image(self.doc.bias.values())], "w": [w], "h": [h]}
            return
        x0, y0, x1, y1 = change.box
        if x1 > x0 and y1 > y0:
            patch = glyphs.density_image(self.doc.bias.patch(change.box))
            self.density.patch({"image": [((0, slice(y0, y1), slice(x0, x1)), patch.ravel())]})

    def _on_layout(self, change: LayoutChange | None = None) -> None:
        doc = self.doc
        n = len(doc.layout)
        if change is None or change.action in REBUILD or len(change.indices) > PATCH_LIMIT:
            rows = np.arange(n)
            self.ginit.data = glyphs.token_columns(doc, rows)
            self.regions.data = glyphs.region_columns(doc, rows)
            self._selected = doc.layout.selected_mask()
        elif change.indices.size:
            rows = change.indices
            _patch(self.ginit, rows, glyphs.token_columns(doc, rows))
            if change.action != "locks":
                _patch(self.regions, rows, glyphs.region_columns(doc, rows))
            self._selected[rows] = doc.layout.selected_mask()[rows]
        self._on_handles()

    def _on_selection(self, _rows=None) -> None:
        mask = self.doc.layout.selected_mask()
        if len(mask) != len(self._selected):
            return  # a rebuild is on its way (the layout changed length)
        rows = np.flatnonzero(mask != self._selected)
        self._selected = mask
        if rows.size:
            cols = glyphs.token_columns(self.doc, rows)
            _patch(self.ginit, rows, {k: cols[k] for k in ("color", "alpha", "fill")})
        self._on_handles()

    def _on_handles(self) -> None:
        """The resize and rotate handles of the one selected Gaussian (the move tool drags them)."""
        row = None if self.doc is None else handle_target(self.doc)
        points = [] if row is None else list(handle_points(self.doc, row, self.pixel_size()).values())
        data = {"x": [float(p[0]) for p in points], "y": [float(p[1]) for p in points]}
        if data != dict(self.handles.data):
            self.handles.data = data

    def _on_result(self, result) -> None:
        if result is None:
            self.refined.data = {k: [] for k in ("x", "y", "width", "height", "angle")}
        elif self.session.layers.get("refined"):
            self.refined.data = glyphs.ellipse_columns(self.doc, result.tokens)

    # --- view state -----------------------------------------------------------------------------

    def _on_layer(self, key: str, visible: bool) -> None:
        self.renderers[key].visible = visible
        if key == "refined" and visible and self.doc is not None:
            self._on_result(self.doc.result)

    def _on_mode(self, mode: Mode) -> None:
        self.figure.toolbar.active_drag = self.pan_tool if mode == Mode.PAN else None
        self.lasso_trail.tags = ["lasso"] if mode == Mode.LASSO else []

    def _on_overlay(self) -> None:
        overlay = self.session.tools.overlay
        if overlay.box is None:
            self.overlay_box.data = {k: [] for k in ("x", "y", "width", "height")}
        else:
            x0, y0, x1, y1 = overlay.box
            self.overlay_box.data = {"x": [(x0 + x1) / 2], "y": [(y0 + y1) / 2], "width": [abs(x1 - x0)],
                                     "height": [abs(y1 - y0)]}
        path = None if self.session.tools.mode == Mode.LASSO else overlay.path  # the browser draws the lasso
        if path is not None:
            self.overlay_path.data = {"x": path[:, 0], "y": path[:, 1]}
        elif len(self.overlay_path.data["x"]):
            self.overlay_path.data = {"x": [], "y": []}

    def _on_ghost(self, geometry) -> None:
        """The layout before a calibration (or a raw sampled layout), dashed, until the next change."""
        empty = geometry is None or self.doc is None
        self.ghost.data = {k: [] for k in ("x", "y", "width", "height", "angle")} if empty else \
            glyphs.ellipse_columns(self.doc, geometry)

    def close(self) -> None:
        self.set_document(None)
        self.session.events.document.disconnect(self.set_document)
        self.session.events.layer.disconnect(self._on_layer)
        self.session.tools.mode_changed.disconnect(self._on_mode)
        self.session.tools.overlay.changed.disconnect(self._on_overlay)
        self.session.generation.events.ghost.disconnect(self._on_ghost)
