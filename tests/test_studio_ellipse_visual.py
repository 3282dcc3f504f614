"""The ellipse overlay visual rendered by real GL: outlines lit, unfilled interiors clear, fills tinted,
point sprites, quads and the CPU raster drawing the same picture, one slot rewritten in place, the
raster chosen for many shapes, following the camera and clipped to its view."""
import numpy as np
import pytest
import vispy

vispy.use("pyside6")
from vispy import scene  # noqa: E402

from gpstoken_studio.views.ellipse_visual import Ellipses  # noqa: E402

pytestmark = pytest.mark.gui

RED, GREEN, BLUE = (1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0)
# cx, cy, a, b, theta in scene units (2 screen pixels each); the big one is wider than any point sprite
SHAPES = np.array([[25, 20, 15, 6, 0.5], [70, 20, 8, 8, 0.0], [50, 50, 40, 12, -0.2]], np.float32)


@pytest.fixture
def canvas(qapp):
    """A 200x150 canvas showing scene (0..100, 0..75), y down as in the editor; its one view as ``.view``."""
    c = scene.SceneCanvas(size=(200, 150), bgcolor="black", show=True)
    c.unfreeze()
    c.view = c.central_widget.add_view()
    c.view.camera = scene.PanZoomCamera(aspect=1, flip=(False, True), rect=(0, 0, 100, 75))
    yield c
    c.close()


def pixel(node, x: float, y: float) -> tuple[int, int]:
    """(row, column) of the canvas pixel showing scene point (x, y)."""
    p = node.get_transform("visual", "canvas").map([x, y])
    return int(p[1] / p[3]), int(p[0] / p[3])


def on_outline(e: np.ndarray, phi: float) -> tuple[float, float]:
    cx, cy, a, b, t = e
    x, y = a * np.cos(phi), b * np.sin(phi)
    return cx + np.cos(t) * x - np.sin(t) * y, cy + np.sin(t) * x + np.cos(t) * y


def draw(canvas, shapes, colors, fill, point_max_px=None, shape="ellipse", raster=False):
    node = Ellipses(parent=canvas.view.scene, width=1.5, shape=shape)
    node.raster = raster
    if point_max_px is not None:
        node.point_max_px = point_max_px
    node.set_data(shapes, colors, fill)
    img = canvas.render()[..., :3].astype(int)
    assert node._rastered == bool(raster)
    return node, img


PATHS = {"points+quads": dict(), "all quads": dict(point_max_px=0.0), "cpu raster": dict(raster=True)}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_outlines_are_lit_unfilled_insides_clear_and_fills_tinted(canvas, path):
    node, img = draw(canvas, SHAPES, np.array([RED, GREEN, BLUE]), np.array([0.0, 0.5, 0.0]), **path)
    for e, channel in zip(SHAPES, (0, 1, 2)):
        for phi in np.linspace(0, 2 * np.pi, 12, endpoint=False):
            r, c = pixel(node, *on_outline(e, phi))
            assert img[r, c, channel] > 120, (e, phi, img[r, c])
    assert img[pixel(node, 25, 20)].max() == 0  # inside the unfilled red one
    assert img[pixel(node, 50, 45)].max() == 0  # inside the unfilled big blue one
    assert abs(img[pixel(node, 70, 20)][1] - 128) <= 3 and img[pixel(node, 70, 20)][[0, 2]].max() == 0  # fill 0.5
    # the rotation keeps its sense (y down): the far end of the red major axis is lit, its mirror image is not
    r, c = pixel(node, 25 - 15 * np.cos(0.5), 20 + 15 * np.sin(0.5))
    assert img[max(r - 2, 0):r + 3, max(c - 2, 0):c + 3, 0].max() == 0


def test_point_sprites_draw_what_quads_draw(canvas):
    shapes = np.array([[25, 20, 9, 4, 0.5], [70, 20, 8, 8, 0.0]], np.float32)
    node, sprites = draw(canvas, shapes, np.array([RED, GREEN]), np.array([0.3, 0.0]))
    assert node._is_point.all()
    node.point_max_px = 0.0
    node.update()
    quads = canvas.render()[..., :3].astype(int)
    assert not node._is_point.any()
    assert np.abs(sprites - quads).mean() < 0.1 and np.abs(sprites - quads).max() < 100


@pytest.mark.parametrize("raster", [False, True], ids=["gpu", "cpu raster"])
def test_boxes_draw_their_edges_up_to_the_corners(canvas, raster):
    box = np.array([[50, 35, 30, 15, 0.0]], np.float32)
    node, img = draw(canvas, box, np.array([GREEN]), 0.0, shape="box", raster=raster)
    for x, y in ((21, 20), (80, 21), (79, 50), (20, 49), (50, 20), (20, 35)):
        assert img[pixel(node, x, y)][1] > 120, (x, y)
    assert img[pixel(node, 50, 35)].max() == 0


@pytest.mark.parametrize("raster", [False, True], ids=["gpu", "cpu raster"])
def test_set_rows_moves_one_slot_and_leaves_the_others(canvas, raster):
    node, _ = draw(canvas, SHAPES[:2], np.array([RED, GREEN]), 0.0, raster=raster)
    node.set_rows([1], np.array([[70, 50, 8, 8, 0.0]], np.float32))
    img = canvas.render()[..., :3].astype(int)
    assert img[pixel(node, 78, 50)][1] > 120 and img[pixel(node, 78, 20)].max() == 0
    assert img[pixel(node, *on_outline(SHAPES[0], 1.0))][0] > 120
    assert node.count == 2


def test_cpu_raster_draws_what_the_gpu_draws(canvas):
    colors, fill = np.array([RED, GREEN, BLUE]), np.array([0.3, 0.5, 0.0])
    node, gpu = draw(canvas, SHAPES, colors, fill)
    node.raster = True
    node.update()
    cpu = canvas.render()[..., :3].astype(int)
    assert node._rastered
    diff = np.abs(cpu - gpu).max(axis=-1)
    assert diff.mean() < 0.3 and (diff > 60).mean() < 0.002  # the same pixels, up to rounding of the edges
    assert (cpu.max(axis=-1) > 0).sum() == pytest.approx((gpu.max(axis=-1) > 0).sum(), rel=0.05)


def test_many_shapes_choose_the_cpu_raster_and_few_the_gpu(canvas):
    rng = np.random.default_rng(0)
    many = np.c_[rng.uniform(0, 100, (3000, 1)), rng.uniform(0, 75, (3000, 1)), np.full((3000, 2), 2.0),
                 np.zeros(3000)].astype(np.float32)
    node = Ellipses(parent=canvas.view.scene, width=1.5)
    node.set_data(many, GREEN)
    img = canvas.render()[..., :3].astype(int)
    assert node._rastered
    r, c = pixel(node, many[0, 0] + 2.0, many[0, 1])
    assert img[r, c, 1] > 100
    node.set_data(SHAPES, GREEN)
    canvas.render()
    assert not node._rastered


def test_cpu_raster_follows_the_camera(canvas):
    circle = np.array([[50, 35, 10, 10, 0.0]], np.float32)
    node, img = draw(canvas, circle, np.array([RED]), 0.0, raster=True)
    before = pixel(node, 60, 35)
    assert img[before][0] > 120
    canvas.view.camera.rect = (25, 17.5, 50, 37.5)  # zoom in 2x about the circle's centre
    img = canvas.render()[..., :3].astype(int)
    after = pixel(node, 60, 35)
    assert after[1] - 100 == pytest.approx(2 * (before[1] - 100), abs=1)  # twice as far from the centre column
    assert img[after][0] > 120 and img[before][0] == 0


def test_cpu_raster_stays_inside_its_view(qapp):
    """Two views share the canvas; an ellipse running off the left view's edge is not drawn in the right one."""
    c = scene.SceneCanvas(size=(200, 100), bgcolor="black", show=True)
    try:
        grid = c.central_widget.add_grid()
        left, right = grid.add_view(row=0, col=0), grid.add_view(row=0, col=1)
        for view in (left, right):
            view.camera = scene.PanZoomCamera(aspect=1, flip=(False, True), rect=(0, 0, 100, 100))
        node = Ellipses(parent=left.scene, width=1.5)
        node.raster = True
        node.set_data(np.array([[100, 50, 60, 20, 0.0]], np.float32), RED)
        img = c.render()[..., :3].astype(int)
        assert node._rastered
        assert img[40:60, 45:99, 0].max() > 120  # the left part of its outline, in the left view
        assert img[:, 101:].max() == 0
    finally:
        c.close()
