"""All ellipse (or box) outlines as ONE mesh of quads: one draw call, four vertices per shape.

Each quad carries its shape (centre, semi-axes, rotation), colour and fill; the fragment shader
draws an anti-aliased outline of constant screen width analytically (distance from the implicit
function over its screen-space derivative). Software GL (llvmpipe) is bound by the fragments the
quads cover and by vertices, not by uploads (see benchmarks/bench_overlay.py): 48-segment polylines
cost several times more than these quads, and an octagonal band per ellipse saved fill for large
ellipses but cost more vertices than it saved at 1024+. The vertex shader hands the fragment shader
only what it needs (normalised position, fill, colour), which llvmpipe interpolates per fragment.

Shapes live in fixed slots; ``set_rows`` rewrites the slots that changed and uploads only the span of
the vertex buffers they cover, so dragging one of 4096 ellipses uploads four vertices.
"""
from __future__ import annotations

import numpy as np
from vispy.gloo import IndexBuffer, VertexBuffer
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

_VERTEX = """
attribute vec2 a_corner;
attribute vec4 a_shape;  // centre x, y and semi-axes a, b in scene units
attribute vec2 a_rot;  // cos, sin of the rotation
attribute vec4 a_color;
attribute float a_fill;
uniform float u_pixel;
uniform float u_width;
varying vec3 v_nf;  // position in units of the semi-axes, fill alpha
varying vec4 v_color;

void main() {
    vec2 axes = max(a_shape.zw, vec2(1e-6));
    vec2 p = a_corner * (axes + vec2(u_pixel * (0.5 * u_width + 0.5)));  // exactly the anti-aliased edge
    vec2 q = vec2(a_rot.x * p.x - a_rot.y * p.y, a_rot.y * p.x + a_rot.x * p.y) + a_shape.xy;
    v_nf = vec3(p / axes, a_fill);
    v_color = a_color;
    gl_Position = $transform(vec4(q, 0.0, 1.0));
}
"""

_FRAGMENT = """
uniform float u_width;
varying vec3 v_nf;
varying vec4 v_color;

void main() {
    vec2 n = v_nf.xy;
    float f = %s;  // < 0 inside, 0 on the outline; linear enough across a pixel
    float edge = clamp(0.5 * u_width + 0.5 - abs(f) / max(fwidth(f), 1e-9), 0.0, 1.0);
    float alpha = max(edge, f < 0.0 ? v_nf.z : 0.0) * v_color.a;
    if (alpha <= 0.0) discard;
    gl_FragColor = vec4(v_color.rgb, alpha);
}
"""
_SHAPES = {"ellipse": "dot(n, n) - 1.0", "box": "max(abs(n.x), abs(n.y)) - 1.0"}

_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
_QUAD = np.array([0, 1, 2, 0, 2, 3], np.uint32)
_GEOMETRY = np.dtype([("a_corner", np.float32, 2), ("a_shape", np.float32, 4), ("a_rot", np.float32, 2)])
_STYLE = np.dtype([("a_color", np.float32, 4), ("a_fill", np.float32)])


class EllipsesVisual(Visual):
    """Outlines of ellipses (cx, cy, a, b, theta), or of boxes with ``shape="box"``, with an RGBA colour
    and a fill alpha each."""

    def __init__(self, width: float = 1.2, shape: str = "ellipse") -> None:
        Visual.__init__(self, vcode=_VERTEX, fcode=_FRAGMENT % _SHAPES[shape])
        self._geometry = np.zeros(0, _GEOMETRY)  # CPU copies of the vertex buffers, 4 vertices per slot
        self._style = np.zeros(0, _STYLE)
        self._geometry_buffer = VertexBuffer(np.zeros(4, _GEOMETRY))
        self._style_buffer = VertexBuffer(np.zeros(4, _STYLE))
        for buffer in (self._geometry_buffer, self._style_buffer):
            for name in buffer.dtype.names:
                self.shared_program[name] = buffer[name]
        self.shared_program["u_width"] = float(width)
        self.shared_program["u_pixel"] = 1.0
        self._index_buffer = IndexBuffer(_QUAD.copy())
        self._count = 0
        self._draw_mode = "triangles"
        self.set_gl_state("translucent", depth_test=False)

    @property
    def count(self) -> int:
        return self._count

    def set_data(self, ellipses: np.ndarray, colors: np.ndarray, fill: np.ndarray | float = 0.0) -> None:
        """Replace all shapes: ``ellipses [N, 5]`` (cx, cy, a, b, theta), ``colors [N, 4]`` (or one RGBA),
        ``fill [N]`` alpha inside (or one)."""
        e = np.asarray(ellipses, dtype=np.float32).reshape(-1, 5)
        n = len(e)
        if n != self._count:
            self._count = n
            self._geometry = np.zeros(4 * n, _GEOMETRY)
            self._style = np.zeros(4 * n, _STYLE)
            self._geometry["a_corner"] = np.tile(_CORNERS, (n, 1))
            self._index_buffer.set_data((_QUAD[None, :] + 4 * np.arange(n, dtype=np.uint32)[:, None]).ravel()
                                        if n else _QUAD.copy())
        if n:
            self._write(np.arange(n), e, colors, fill)
            self._geometry_buffer.set_data(self._geometry)
            self._style_buffer.set_data(self._style)
        self.update()

    def set_rows(self, slots: np.ndarray, ellipses: np.ndarray | None = None, colors: np.ndarray | None = None,
                 fill: np.ndarray | float | None = None) -> None:
        """Rewrite some slots (any of geometry, colour, fill) and upload just the span they cover."""
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if not slots.size:
            return
        e = None if ellipses is None else np.asarray(ellipses, dtype=np.float32).reshape(-1, 5)
        self._write(slots, e, colors, fill)
        lo, hi = 4 * int(slots.min()), 4 * int(slots.max()) + 4
        if e is not None:
            self._geometry_buffer.set_subdata(self._geometry[lo:hi], offset=lo)
        if colors is not None or fill is not None:
            self._style_buffer.set_subdata(self._style[lo:hi], offset=lo)
        self.update()

    def _write(self, slots: np.ndarray, e: np.ndarray | None, colors, fill) -> None:
        k = len(slots)
        vertices = (4 * slots[:, None] + np.arange(4)).ravel()
        if e is not None:
            shape = np.concatenate([e[:, 0:4], np.cos(e[:, 4:5]), np.sin(e[:, 4:5])], axis=1)
            rows = np.repeat(shape, 4, axis=0)
            self._geometry["a_shape"][vertices] = rows[:, 0:4]
            self._geometry["a_rot"][vertices] = rows[:, 4:6]
        if colors is not None:
            c = np.broadcast_to(np.asarray(colors, np.float32).reshape(-1, 4), (k, 4))
            self._style["a_color"][vertices] = np.repeat(c, 4, axis=0)
        if fill is not None:
            f = np.broadcast_to(np.asarray(fill, np.float32).reshape(-1), (k,))
            self._style["a_fill"][vertices] = np.repeat(f, 4)

    def set_width(self, width: float) -> None:
        self.shared_program["u_width"] = float(width)
        self.update()

    def _prepare_transforms(self, view) -> None:
        view.view_program.vert["transform"] = view.get_transform()

    def _prepare_draw(self, view) -> bool:
        if not self._count:
            return False
        tr = view.transforms.get_transform("visual", "canvas")
        p = tr.map(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
        scale = max(float(np.hypot(*(p[1, :2] - p[0, :2]))), float(np.hypot(*(p[2, :2] - p[0, :2]))), 1e-9)
        view.view_program["u_pixel"] = 1.0 / scale  # scene units per screen pixel
        return True

    def _compute_bounds(self, axis, view):
        return None


Ellipses = create_visual_node(EllipsesVisual)
