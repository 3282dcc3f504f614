"""All ellipse outlines as ONE mesh of quads: one draw call, four vertices per ellipse.

Each quad carries its ellipse (centre, semi-axes, rotation), colour and fill; the fragment shader
draws an anti-aliased outline of constant screen width analytically (distance from the implicit
function over its screen-space derivative). Software GL (llvmpipe) is vertex-bound on line
geometry: 48-segment polylines of 4096 ellipses cost several times more than these quads (see
benchmarks/bench_overlay.py); an octagonal band per ellipse saved fill for large ellipses but
cost more vertices than it saved at 1024+.
"""
from __future__ import annotations

import numpy as np
from vispy.gloo import IndexBuffer, VertexBuffer
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

_VERTEX = """
attribute vec2 a_corner;
attribute vec2 a_center;
attribute vec2 a_axes;
attribute vec2 a_rot;
attribute vec4 a_color;
attribute float a_fill;
uniform float u_pixel;
uniform float u_width;
varying vec2 v_local;
varying vec2 v_axes;
varying vec4 v_color;
varying float v_fill;

void main() {
    vec2 axes = max(a_axes, vec2(1e-6));
    vec2 p = a_corner * (axes + vec2(u_pixel * (0.5 * u_width + 0.5)));  // exactly the anti-aliased edge
    vec2 q = vec2(a_rot.x * p.x - a_rot.y * p.y, a_rot.y * p.x + a_rot.x * p.y) + a_center;
    v_local = p;
    v_axes = axes;
    v_color = a_color;
    v_fill = a_fill;
    gl_Position = $transform(vec4(q, 0.0, 1.0));
}
"""

_FRAGMENT = """
uniform float u_pixel;
uniform float u_width;
varying vec2 v_local;
varying vec2 v_axes;
varying vec4 v_color;
varying float v_fill;

void main() {
    vec2 n = v_local / v_axes;
    float f = dot(n, n) - 1.0;
    float dist = abs(f) / max(fwidth(f), 1e-9);
    float edge = clamp(0.5 * u_width + 0.5 - dist, 0.0, 1.0);
    float inside = f < 0.0 ? v_fill : 0.0;
    float alpha = max(edge, inside) * v_color.a;
    if (alpha <= 0.0) discard;
    gl_FragColor = vec4(v_color.rgb, alpha);
}
"""

_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
_QUAD = np.array([0, 1, 2, 0, 2, 3], np.uint32)


class EllipsesVisual(Visual):
    """Ellipse outlines (cx, cy, a, b, theta) with an RGBA colour and a fill alpha each."""

    def __init__(self, width: float = 1.2) -> None:
        Visual.__init__(self, vcode=_VERTEX, fcode=_FRAGMENT)
        self._buffers = {name: VertexBuffer(np.zeros((4, k), np.float32)) for name, k in
                         (("a_corner", 2), ("a_center", 2), ("a_axes", 2), ("a_rot", 2), ("a_color", 4), ("a_fill", 1))}
        for name, buf in self._buffers.items():
            self.shared_program[name] = buf
        self.shared_program["u_width"] = float(width)
        self.shared_program["u_pixel"] = 1.0
        self._index_buffer = IndexBuffer(_QUAD.copy())
        self._count = 0
        self._capacity = 0
        self._draw_mode = "triangles"
        self.set_gl_state("translucent", depth_test=False)

    @property
    def count(self) -> int:
        return self._count

    def set_data(self, ellipses: np.ndarray, colors: np.ndarray, fill: np.ndarray | float = 0.0) -> None:
        """``ellipses [N, 5]`` (cx, cy, a, b, theta), ``colors [N, 4]`` (or one RGBA), ``fill [N]`` alpha inside."""
        e = np.asarray(ellipses, dtype=np.float32).reshape(-1, 5)
        n = len(e)
        self._count = n
        if n:
            if n != self._capacity:
                self._capacity = n
                self._buffers["a_corner"].set_data(np.tile(_CORNERS, (n, 1)))
                self._index_buffer.set_data((_QUAD[None, :] + 4 * np.arange(n, dtype=np.uint32)[:, None]).ravel())
            quad = lambda a: np.ascontiguousarray(np.repeat(a, 4, axis=0), dtype=np.float32)  # noqa: E731
            self._buffers["a_center"].set_data(quad(e[:, 0:2]))
            self._buffers["a_axes"].set_data(quad(e[:, 2:4]))
            self._buffers["a_rot"].set_data(quad(np.stack([np.cos(e[:, 4]), np.sin(e[:, 4])], axis=1)))
            self._buffers["a_color"].set_data(quad(np.broadcast_to(np.asarray(colors, np.float32), (n, 4))))
            self._buffers["a_fill"].set_data(quad(np.broadcast_to(np.asarray(fill, np.float32), (n,))[:, None]))
        self.update()

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
