"""The editor canvas: the original (with overlays) and the reconstruction side by side.

Both views use one linked pan/zoom camera state. Mouse handling is ours, not vispy's scene
picking (which renders a picking pass per press): the left button drives the current tool in the
left view; the middle button, Space+drag or the PAN tool pan; the wheel zooms at the pointer.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from vispy import scene

from gpstoken_studio import style

ZOOM_STEP = 1.15


class StudioCanvas:
    """A SceneCanvas with ``left`` and ``right`` ViewBoxes and pointer callbacks in plane pixels."""

    def __init__(self) -> None:
        self.canvas = scene.SceneCanvas(keys=None, bgcolor=style.BACKGROUND, show=False)
        self.native = self.canvas.native
        grid = self.canvas.central_widget.add_grid(spacing=6, margin=6)
        self.left_title = self._title(grid, 0, "Original · partition · g_init")
        self.right_title = self._title(grid, 1, "Reconstruction")
        self.left = grid.add_view(row=1, col=0, border_color=(1, 1, 1, 0.15))
        self.right = grid.add_view(row=1, col=1, border_color=(1, 1, 1, 0.15))
        self.colorbar = scene.widgets.ColorBarWidget(
            cmap=style.ERROR_CMAP, orientation="bottom", clim=style.ERROR_SCALE, label=" ",
            label_color=(0.85, 0.87, 0.9, 1.0), axis_ratio=0.18, border_width=0)
        self.colorbar.height_max = 64
        self._grid = grid
        for view in (self.left, self.right):
            view.camera = scene.PanZoomCamera(aspect=1, flip=(False, True))
            view.camera.interactive = False
        self.left.camera.link(self.right.camera)
        for name in ("mouse_press", "mouse_move", "mouse_release", "mouse_wheel"):
            emitter = getattr(self.canvas.events, name)
            emitter.disconnect(self.canvas._process_mouse_event)  # no scene picking: we route events
            emitter.connect(getattr(self, f"_on_{name}"))
        # set by the interaction controller: (kind, plane position, modifiers, event) -> handled
        self.on_pointer: Callable[[str, np.ndarray, frozenset], bool] | None = None
        self.pan_button_held = False  # Space held: left drags pan
        self._pan_from: tuple | None = None

    @staticmethod
    def _title(grid, col: int, text: str):
        label = scene.widgets.Label(text, color=(0.85, 0.87, 0.9, 1.0), font_size=9)
        label.height_max = 22
        grid.add_widget(label, row=0, col=col)
        return label

    # --- geometry -------------------------------------------------------------------------------

    def set_extent(self, size_hw: tuple[int, int]) -> None:
        """Fit the plane (H, W) into the views."""
        h, w = size_hw
        self.left.camera.set_range(x=(-0.5, w - 0.5), y=(-0.5, h - 0.5), margin=0.02)

    def to_plane(self, view: scene.ViewBox, pos) -> np.ndarray:
        """Canvas position -> plane pixel coordinates (x, y) in ``view``."""
        tr = self.canvas.scene.node_transform(view.scene)
        return np.asarray(tr.map(np.asarray(pos[:2], dtype=np.float64))[:2], dtype=np.float64)

    def to_canvas(self, point_xy, view: scene.ViewBox | None = None) -> np.ndarray:
        """Plane pixel coordinates -> canvas (widget) position in ``view`` (left by default)."""
        tr = (view or self.left).scene.node_transform(self.canvas.scene)
        return np.asarray(tr.map(np.asarray(point_xy, dtype=np.float64))[:2])

    def pixel_size(self, view: scene.ViewBox | None = None) -> float:
        """Plane pixels per screen pixel at the current zoom."""
        view = view or self.left
        return float(view.camera.rect.width / max(view.size[0], 1))

    def view_at(self, pos) -> scene.ViewBox | None:
        for view in (self.left, self.right):
            x, y = self.canvas.scene.node_transform(view).map(np.asarray(pos[:2], dtype=np.float64))[:2]
            if 0 <= x < view.size[0] and 0 <= y < view.size[1]:
                return view
        return None

    def show_colorbar(self, show: bool) -> None:
        """The |error| scale bar beside the right view (a grid column only while it is shown)."""
        shown = self.colorbar.parent is not None
        if show and not shown:
            self._grid.add_widget(self.colorbar, row=2, col=1)
        elif shown and not show:
            self._grid.remove_widget(self.colorbar)

    # --- mouse ----------------------------------------------------------------------------------

    @staticmethod
    def _modifiers(event) -> frozenset:
        return frozenset(k.name.lower() for k in (event.modifiers or ()))

    def _emit(self, kind: str, event) -> bool:
        if self.on_pointer is None:
            return False
        return self.on_pointer(kind, self.to_plane(self.left, event.pos), self._modifiers(event))

    def _on_mouse_press(self, event) -> None:
        view = self.view_at(event.pos)
        if view is None:
            return
        tool = event.button == 1 and view is self.left and not self.pan_button_held
        if tool and self._emit("press", event):
            return
        if event.button in (1, 3):
            self._pan_from = (view, np.asarray(event.pos[:2], dtype=np.float64))

    def _on_mouse_move(self, event) -> None:
        if self._pan_from is not None:
            view, last = self._pan_from
            now = np.asarray(event.pos[:2], dtype=np.float64)
            view.camera.pan(self.to_plane(view, last) - self.to_plane(view, now))
            self._pan_from = (view, now)
            return
        self._emit("move", event)

    def _on_mouse_release(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            return
        self._emit("release", event)

    def _on_mouse_wheel(self, event) -> None:
        view = self.view_at(event.pos)
        if view is None:
            return
        center = self.to_plane(view, event.pos)
        view.camera.zoom(ZOOM_STEP ** (-float(event.delta[1])), center)

    def zoom(self, factor: float) -> None:
        """Zoom both views about the centre of the left one (factor > 1 zooms in)."""
        rect = self.left.camera.rect
        self.left.camera.zoom(1.0 / factor, (rect.center[0], rect.center[1]))

    def render_view(self, view: scene.ViewBox) -> np.ndarray:
        """What ``view`` shows now, as uint8 RGB ``[h, w, 3]`` at the framebuffer's resolution."""
        rgba = self.canvas.render()
        ratio = rgba.shape[1] / max(self.canvas.size[0], 1)
        x, y = self.canvas.scene.node_transform(view).imap([0, 0])[:2]
        w, h = view.size
        crop = rgba[int(y * ratio):int((y + h) * ratio), int(x * ratio):int((x + w) * ratio), :3]
        return np.ascontiguousarray(crop)

    def close(self) -> None:
        self.canvas.close()
