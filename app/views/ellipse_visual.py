"""All ellipse (or box) outlines of a layer in ONE vertex layout, drawn as point sprites when small.

Each shape owns a fixed slot of four vertices carrying its shape (centre, semi-axes, rotation), colour
and fill; the fragment shader draws an anti-aliased outline of constant screen width analytically
(distance from the implicit function over its screen-space derivative). Software GL (llvmpipe) is
bound by vertices, triangles and the fragments they cover, not by uploads (benchmarks/bench_overlay.py).
So a shape whose bounding square is at most ``POINT_MAX_PX`` framebuffer pixels across is drawn as
one point sprite (its slot's first vertex: one vertex, one primitive, no quad diagonal shaded twice);
larger ones as their bounding quad. The split is recomputed when the zoom or the geometry changes.
Measured and not kept: thin rings of 6-16 segments (half the fragments for large shapes, but at 4096
small shapes their triangles cost more than the quads' fragments), 48-segment polylines, octagons.

``set_rows`` rewrites the slots that changed and uploads only the span of the vertex buffers they
cover, so dragging one of 4096 ellipses uploads four vertices.
"""
from __future__ import annotations

import numpy as np
from vispy.gloo import IndexBuffer, VertexBuffer
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

POINT_MAX_PX = 48.0  # widest point sprite; larger shapes are quads (llvmpipe allows 255)

_VERTEX = """
attribute vec2 a_corner;
attribute vec4 a_shape;  // centre x, y and semi-axes a, b in scene units
attribute vec2 a_rot;  // cos, sin of the rotation
attribute vec4 a_color;
attribute float a_fill;
uniform float u_pixel;  // scene units per screen pixel
uniform float u_width;
uniform float u_points;  // 1: draw this slot as a point sprite, 0: as its quad
uniform vec4 u_lin;  // scene -> window pixels, linear part (row-major 2x2, y down as gl_PointCoord)
uniform vec4 u_inv;  // its inverse
varying vec4 v_map;  // quads: (position in units of the semi-axes, 0, 0); points: point coord -> that
varying vec4 v_color;
varying float v_fill;

float _l1(vec2 v) { return abs(v.x) + abs(v.y); }

void main() {
    vec2 axes = max(a_shape.zw, vec2(1e-6));
    vec2 outer = axes + vec2(u_pixel * (0.5 * u_width + 0.5));  // exactly the anti-aliased edge
    v_color = a_color;
    v_fill = a_fill;
    if (u_points > 0.5) {
        // bounding square of the outer ellipse in framebuffer pixels: rows of lin * rot * diag(outer)
        mat2 e = mat2(a_rot.x * outer.x, a_rot.y * outer.x, -a_rot.y * outer.y, a_rot.x * outer.y);
        mat2 lin = mat2(u_lin.x, u_lin.z, u_lin.y, u_lin.w);
        mat2 le = lin * e;
        float half_px = max(%s(vec2(le[0][0], le[1][0])), %s(vec2(le[0][1], le[1][1]))) + 0.5;
        gl_PointSize = 2.0 * half_px;
        // point coord in [-1, 1] (y down) -> pixel offset -> scene offset -> unrotated / axes
        mat2 inv = mat2(u_inv.x, u_inv.z, u_inv.y, u_inv.w);
        mat2 unrot = mat2(a_rot.x, -a_rot.y, a_rot.y, a_rot.x);
        mat2 m = unrot * inv * half_px;
        v_map = vec4(m[0][0] / axes.x, m[1][0] / axes.x, m[0][1] / axes.y, m[1][1] / axes.y);
        gl_Position = $transform(vec4(a_shape.xy, 0.0, 1.0));
    } else {
        vec2 p = a_corner * outer;
        vec2 q = vec2(a_rot.x * p.x - a_rot.y * p.y, a_rot.y * p.x + a_rot.x * p.y) + a_shape.xy;
        v_map = vec4(p / axes, 0.0, 0.0);
        gl_Position = $transform(vec4(q, 0.0, 1.0));
    }
}
"""

_FRAGMENT = """
uniform float u_width;
uniform float u_points;
varying vec4 v_map;
varying vec4 v_color;
varying float v_fill;

void main() {
    vec2 n = v_map.xy;
    if (u_points > 0.5) {
        vec2 c = 2.0 * gl_PointCoord - 1.0;
        n = vec2(dot(v_map.xy, c), dot(v_map.zw, c));
    }
    float f = %s;  // < 0 inside, 0 on the outline; linear enough across a pixel
    float edge = clamp(0.5 * u_width + 0.5 - abs(f) / max(fwidth(f), 1e-9), 0.0, 1.0);
    float alpha = max(edge, f < 0.0 ? v_fill : 0.0) * v_color.a;
    if (alpha <= 0.0) discard;
    gl_FragColor = vec4(v_color.rgb, alpha);
}
"""
# per shape: half extent along an axis from that row of (scene -> pixels) * rotation * axes; implicit function
_SHAPES = {"ellipse": ("length", "dot(n, n) - 1.0"), "box": ("_l1", "max(abs(n.x), abs(n.y)) - 1.0")}

_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32)
_QUAD = np.array([0, 1, 2, 0, 2, 3], np.uint32)
_GEOMETRY = np.dtype([("a_corner", np.float32, 2), ("a_shape", np.float32, 4), ("a_rot", np.float32, 2)])
_STYLE = np.dtype([("a_color", np.float32, 4), ("a_fill", np.float32)])


class EllipsesVisual(Visual):
    """Outlines of ellipses (cx, cy, a, b, theta), or of boxes with ``shape="box"``, with an RGBA colour
    and a fill alpha each."""

    def __init__(self, width: float = 1.2, shape: str = "ellipse") -> None:
        extent, implicit = _SHAPES[shape]
        Visual.__init__(self, vcode=_VERTEX % (extent, extent), fcode=_FRAGMENT % implicit)
        self._box = shape == "box"
        self.point_max_px = POINT_MAX_PX  # 0 draws every shape as a quad
        self._geometry = np.zeros(0, _GEOMETRY)  # CPU copies of the vertex buffers, 4 vertices per slot
        self._style = np.zeros(0, _STYLE)
        self._geometry_buffer = VertexBuffer(np.zeros(4, _GEOMETRY))
        self._style_buffer = VertexBuffer(np.zeros(4, _STYLE))
        for buffer in (self._geometry_buffer, self._style_buffer):
            for name in buffer.dtype.names:
                self.shared_program[name] = buffer[name]
        self._width = float(width)
        self.shared_program["u_width"] = self._width
        self.shared_program["u_pixel"] = 1.0
        self._point_indices = IndexBuffer(np.zeros(1, np.uint32))
        self._quad_indices = IndexBuffer(_QUAD.copy())
        self._reach = np.zeros(0, np.float32)  # radius of each slot's bounding circle, scene units
        self._is_point = np.zeros(0, bool)  # the split the index buffers hold
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
            self._reach = np.zeros(n, np.float32)
            self._is_point = np.zeros(0, bool)
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
        geometry, style = self._geometry.reshape(-1, 4), self._style.reshape(-1, 4)  # a row of 4 vertices a slot
        if e is not None:
            geometry["a_shape"][slots] = e[:, None, 0:4]
            geometry["a_rot"][slots] = np.stack([np.cos(e[:, 4]), np.sin(e[:, 4])], axis=1)[:, None]
            axes = np.abs(e[:, 2:4])
            self._reach[slots] = np.hypot(axes[:, 0], axes[:, 1]) if self._box else axes.max(axis=1)
        if colors is not None:
            style["a_color"][slots] = np.broadcast_to(np.asarray(colors, np.float32).reshape(-1, 4), (k, 4))[:, None]
        if fill is not None:
            style["a_fill"][slots] = np.broadcast_to(np.asarray(fill, np.float32).reshape(-1), (k,))[:, None]

    def set_width(self, width: float) -> None:
        self._width = float(width)
        self.shared_program["u_width"] = self._width
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
        lin = _pixel_map(view.transforms)
        view.view_program["u_lin"] = tuple(lin.ravel())
        invertible = abs(np.linalg.det(lin)) > 1e-12
        view.view_program["u_inv"] = tuple(np.linalg.inv(lin).ravel()) if invertible else (0.0,) * 4
        self._split(lin, 0.5 * self._width + 0.5)
        return True

    def _split(self, lin: np.ndarray, margin_px: float) -> None:
        """Point sprites for the slots whose bounding circle fits point_max_px, quads for the rest."""
        half = np.linalg.norm(lin, 2) * self._reach + margin_px + 0.5
        is_point = 2 * half <= self.point_max_px
        if np.array_equal(is_point, self._is_point):
            return
        self._is_point = is_point
        slots = np.arange(self._count, dtype=np.uint32)
        self._point_indices.set_data(4 * slots[is_point] if is_point.any() else np.zeros(1, np.uint32))
        quads = slots[~is_point]
        self._quad_indices.set_data((_QUAD[None, :] + 4 * quads[:, None]).ravel() if len(quads) else _QUAD.copy())

    def draw(self) -> None:
        """Two draw calls of one program: the point sprites, then the quads."""
        if not self.visible or self._prepare_draw(view=self) is False:
            return
        self._configure_gl_state()
        for points, mode, indices in ((1.0, "points", self._point_indices), (0.0, "triangles", self._quad_indices)):
            if (self._is_point if points else ~self._is_point).any():
                self._program["u_points"] = points
                self._program.draw(mode, indices)

    def _compute_bounds(self, axis, view):
        return None


def _pixel_map(transforms) -> np.ndarray:
    """Linear part of scene -> window pixels with y down (gl_PointCoord's orientation), as a 2x2 matrix.

    Signs come from normalised device coordinates (y up in every framebuffer), scales from the
    framebuffer transform, so it holds on screen and when rendering to an offscreen buffer."""
    unit = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ndc = transforms.get_transform("visual", "render").map(unit)
    fb = transforms.get_transform("visual", "framebuffer").map(unit)
    ndc = (ndc[:, :2] / ndc[:, 3:4])[1:] - (ndc[:, :2] / ndc[:, 3:4])[0]
    fb = (fb[:, :2] / fb[:, 3:4])[1:] - (fb[:, :2] / fb[:, 3:4])[0]
    scale = np.linalg.norm(fb, axis=0) / np.maximum(np.linalg.norm(ndc, axis=0), 1e-12)
    return (ndc * scale * np.array([1.0, -1.0])).T


Ellipses = create_visual_node(EllipsesVisual)
