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

Many small shapes cost llvmpipe every pixel of every bounding square (4096 shapes 10-19 px across cover
1.7x an 800x800 canvas). So from ``RASTER_MIN_COUNT`` shapes whose bounding squares together cover at
least ``RASTER_COVER`` times the framebuffer rectangle they span, the outlines are rasterised on the CPU
(ellipse_raster, only the lit band of each shape) into one texture drawn as a single quad; it is redrawn
when the shapes or the visual -> framebuffer mapping (pan, zoom, resize, offscreen render) change.

``set_rows`` rewrites the slots that changed; the vertex buffers are written and uploaded lazily, for
just the span of slots changed since the last GPU draw, so dragging one of 4096 ellipses uploads four
vertices.
"""
from __future__ import annotations

import numpy as np
from vispy import gloo
from vispy.gloo import IndexBuffer, VertexBuffer
from vispy.gloo.context import get_current_canvas
from vispy.scene.visuals import create_visual_node
from vispy.scene.widgets import ViewBox
from vispy.visuals import Visual

from gpstoken_studio.views.ellipse_raster import extent, pixel_shapes, rasterise

POINT_MAX_PX = 48.0  # widest point sprite; larger shapes are quads (llvmpipe allows 255)
RASTER_MIN_COUNT = 128  # CPU raster from this many shapes (benchmarks/bench_overlay.py: faster from 128 up)
RASTER_COVER = 0.5  # ... whose bounding squares cover at least this multiple of the area they span

_RASTER_VERTEX = """
attribute vec2 a_position;  // normalised device coordinates
attribute vec2 a_texcoord;
varying vec2 v_texcoord;
void main() {
    v_texcoord = a_texcoord;
    gl_Position = vec4(a_position, 0.0, 1.0);
}
"""
_RASTER_FRAGMENT = """
uniform sampler2D u_texture;  // premultiplied RGBA, one texel per framebuffer pixel
varying vec2 v_texcoord;
void main() {
    gl_FragColor = texture2D(u_texture, v_texcoord);
}
"""

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
        self.raster: bool | None = None  # None: CPU raster or GPU shapes by coverage; True / False force one
        self._shapes = np.zeros((0, 5), np.float32)  # the source of truth, one row per slot
        self._colors = np.zeros((0, 4), np.float32)
        self._fill = np.zeros(0, np.float32)
        self._vertex_geometry = np.zeros(0, _GEOMETRY)  # CPU copies of the vertex buffers, 4 vertices per slot
        self._vertex_style = np.zeros(0, _STYLE)
        self._stale: tuple[int, int] | None = None  # slots [lo, hi) not yet in the vertex arrays
        self._unsent: tuple[int, int] | None = None  # ... in the arrays, not yet in the vertex buffers
        self._resized = False  # the arrays were reallocated: upload them whole
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
        self._raster_gl: tuple | None = None  # (GL context, program, texture) of the CPU raster, made on use
        self._image = np.zeros((0, 0, 4), np.uint8)  # the last raster, reused
        self._raster_key: tuple | None = None  # what the texture shows; None: redraw it
        self._rastered = False  # whether the last draw was the CPU raster
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
            self._shapes = np.zeros((n, 5), np.float32)
            self._colors = np.zeros((n, 4), np.float32)
            self._fill = np.zeros(n, np.float32)
            self._reach = np.zeros(n, np.float32)
            self._vertex_geometry = np.zeros(0, _GEOMETRY)  # reallocated when next needed
            self._is_point = np.zeros(0, bool)
        if n:
            self._write(np.arange(n), e, colors, fill)
        self.update()

    def set_rows(self, slots: np.ndarray, ellipses: np.ndarray | None = None, colors: np.ndarray | None = None,
                 fill: np.ndarray | float | None = None) -> None:
        """Rewrite some slots (any of geometry, colour, fill); the next GPU draw uploads just their span."""
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if not slots.size:
            return
        e = None if ellipses is None else np.asarray(ellipses, dtype=np.float32).reshape(-1, 5)
        self._write(slots, e, colors, fill)
        self.update()

    def _write(self, slots: np.ndarray, e: np.ndarray | None, colors, fill) -> None:
        k = len(slots)
        if k == self._count and np.array_equal(slots, np.arange(k)):
            slots = slice(None)  # every slot, in order (set_data): plain copies
        if e is not None:
            self._shapes[slots] = e
            axes = np.abs(e[:, 2:4])
            self._reach[slots] = np.hypot(axes[:, 0], axes[:, 1]) if self._box else axes.max(axis=1)
        if colors is not None:
            self._colors[slots] = np.broadcast_to(np.asarray(colors, np.float32).reshape(-1, 4), (k, 4))
        if fill is not None:
            self._fill[slots] = np.broadcast_to(np.asarray(fill, np.float32).reshape(-1), (k,))
        lo, hi = (0, k) if isinstance(slots, slice) else (int(slots.min()), int(slots.max()) + 1)
        self._stale = (lo, hi) if self._stale is None else (min(lo, self._stale[0]), max(hi, self._stale[1]))
        self._raster_key = None

    @property
    def _geometry(self) -> np.ndarray:
        """The geometry vertex array (4 vertices a slot), up to date."""
        self._write_vertices()
        return self._vertex_geometry

    @property
    def _style(self) -> np.ndarray:
        """The style vertex array (4 vertices a slot), up to date."""
        self._write_vertices()
        return self._vertex_style

    def _write_vertices(self) -> None:
        """Write the stale span of slots into the vertex arrays (all of them after a resize)."""
        n = self._count
        if len(self._vertex_geometry) != 4 * n:
            self._vertex_geometry = np.zeros(4 * n, _GEOMETRY)
            self._vertex_style = np.zeros(4 * n, _STYLE)
            self._vertex_geometry["a_corner"] = np.tile(_CORNERS, (n, 1))
            self._stale, self._unsent = (0, n), None
            self._resized = True
        if self._stale is None:
            return
        lo, hi = self._stale
        self._stale = None
        self._unsent = (lo, hi) if self._unsent is None else (min(lo, self._unsent[0]), max(hi, self._unsent[1]))
        e = self._shapes[lo:hi]
        geometry = self._vertex_geometry.reshape(-1, 4)[lo:hi]
        style = self._vertex_style.reshape(-1, 4)[lo:hi]
        geometry["a_shape"] = e[:, None, 0:4]
        geometry["a_rot"] = np.stack([np.cos(e[:, 4]), np.sin(e[:, 4])], axis=1)[:, None]
        style["a_color"] = self._colors[lo:hi, None]
        style["a_fill"] = self._fill[lo:hi, None]

    def _upload_vertices(self) -> None:
        """Upload what changed since the last GPU draw: the span of slots written, or all after a resize."""
        self._write_vertices()
        if self._resized:
            self._geometry_buffer.set_data(self._vertex_geometry)
            self._style_buffer.set_data(self._vertex_style)
        elif self._unsent is not None:
            lo, hi = 4 * self._unsent[0], 4 * self._unsent[1]
            self._geometry_buffer.set_subdata(self._vertex_geometry[lo:hi], offset=lo)
            self._style_buffer.set_subdata(self._vertex_style[lo:hi], offset=lo)
        self._resized, self._unsent = False, None

    def set_width(self, width: float) -> None:
        self._width = float(width)
        self.shared_program["u_width"] = self._width
        self._raster_key = None
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
        self._upload_vertices()
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

    def _raster_plan(self) -> tuple | None:
        """(key, scene -> framebuffer affine, framebuffer rect to raster) when the CPU raster is the
        cheaper drawing (or forced); None to draw the shapes on the GPU."""
        if not self._count or self.raster is False:
            return None
        trs = self.transforms
        unit = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        p = trs.get_transform("visual", "framebuffer").map(unit)
        p = p[:, :2] / p[:, 3:4]
        linear, offset = (p[1:] - p[0]).T, p[0]
        clip = _drawable_rect(self)
        if not np.all(np.isfinite(linear)) or clip[0] >= clip[2] or clip[1] >= clip[3]:
            return None
        x0, y0, x1, y1, area = extent(self._shapes, self._reach, linear, offset, 0.5 * self._width + 1.0)
        lo = np.maximum(np.floor([x0, y0]), clip[:2])
        hi = np.minimum(np.ceil([x1, y1]), clip[2:])
        if np.any(hi <= lo) or not np.all(np.isfinite(np.r_[lo, hi])):
            return None
        rect = np.r_[lo, hi].astype(np.int64)
        if self.raster is None and (self._count < RASTER_MIN_COUNT or area < RASTER_COVER * float(np.prod(hi - lo))):
            return None
        ndc = trs.get_transform("framebuffer", "render")
        key = (tuple(linear.ravel()), tuple(offset), tuple(rect), tuple(ndc.map(rect.reshape(2, 2).astype(float))
                                                                        .ravel()))
        return key, linear, offset, rect

    def _draw_raster(self, plan: tuple) -> None:
        key, linear, offset, rect = plan
        canvas = get_current_canvas()
        context = canvas.context
        if self._raster_gl is None or self._raster_gl[0] is not context:  # first use, or another canvas
            texture = gloo.Texture2D(np.zeros((1, 1, 4), np.uint8), interpolation="nearest")
            program = gloo.Program(_RASTER_VERTEX, _RASTER_FRAGMENT)
            program["u_texture"] = texture
            self._raster_gl = (context, program, texture)
            self._raster_key = None
        _, program, texture = self._raster_gl
        if key != self._raster_key:
            centres, unit = pixel_shapes(self._shapes, linear, offset)
            shape = (rect[3] - rect[1], rect[2] - rect[0], 4)
            if self._image.shape != shape:
                self._image = np.empty(shape, np.uint8)
            image = self._image
            rasterise(centres, unit, self._colors, self._fill, self._width, self._box, rect, image)
            canvas.set_current()  # loading the kernels (first call) was seen to leave another GL context current
            if texture.shape[:2] != image.shape[:2]:
                texture.resize(image.shape)
            texture.set_data(image, offset=(0, 0))
            corners = np.array([[rect[0], rect[1]], [rect[2], rect[1]], [rect[0], rect[3]], [rect[2], rect[3]]], float)
            ndc = self.transforms.get_transform("framebuffer", "render").map(corners)
            program["a_position"] = (ndc[:, :2] / ndc[:, 3:4]).astype(np.float32)
            program["a_texcoord"] = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
            self._raster_key = key
        self._configure_gl_state()
        gloo.set_blend_func("one", "one_minus_src_alpha")  # the texture is premultiplied
        program.draw("triangle_strip")
        self._configure_gl_state()

    def draw(self) -> None:
        """The CPU raster as one textured quad, or two draw calls of one program: the point sprites,
        then the quads."""
        if not self.visible or not self._count:
            return
        plan = self._raster_plan()
        self._rastered = plan is not None
        if plan is not None:
            self._draw_raster(plan)
            return
        if self._prepare_draw(view=self) is False:
            return
        self._configure_gl_state()
        for points, mode, indices in ((1.0, "points", self._point_indices), (0.0, "triangles", self._quad_indices)):
            if (self._is_point if points else ~self._is_point).any():
                self._program["u_points"] = points
                self._program.draw(mode, indices)

    def _compute_bounds(self, axis, view):
        return None


def _drawable_rect(visual) -> np.ndarray:
    """Framebuffer pixels (x0, y0, x1, y1) the visual may draw on: the current viewport, within the
    nearest enclosing ViewBox (whose clipper the CPU raster does not get)."""
    trs = visual.transforms
    corners = trs.get_transform("render", "framebuffer").map(np.array([[-1.0, -1.0], [1.0, 1.0]]))
    rects = [corners[:, :2] / corners[:, 3:4]]
    node = getattr(visual, "parent", None)
    while node is not None and not isinstance(node, ViewBox):
        node = node.parent
    if node is not None:
        r = node.inner_rect
        c = node.get_transform("visual", "framebuffer").map(np.array([[r.left, r.bottom], [r.right, r.top]]))
        rects.append(c[:, :2] / c[:, 3:4])
    lo = np.max([np.ceil(r.min(axis=0) - 0.5) for r in rects], axis=0)
    hi = np.min([np.floor(r.max(axis=0) - 0.5) + 1 for r in rects], axis=0)
    return np.r_[lo, hi]


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
