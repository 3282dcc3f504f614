"""gpstoken.tiling.Tiling: grids, canvases and tile origins, the two small-image policies, per-tile merge and
split, and the types built on it (Partition, fit_init.Layout, TokenSet, the editor's Plane) agreeing with it."""
import numpy as np
import pytest

from gpstoken.errors import GPSTokenError, TokenFileError
from gpstoken.fit_init import adaptive_layout, fit_tiling, grid_layout, layout_from_token_set
from gpstoken.io.tokenfile import TokenSet
from gpstoken.partition import Partitioner, partition
from gpstoken.tiling import SMALL_IMAGES, Tiling
from gpstoken.tokens import MX, MY, merge_tiles
from gpstoken_studio.model.plane import Plane


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("size, tile, grid, tile_hw, canvas", [
    ((300, 520), 256, (2, 3), (256, 256), (512, 768)),  # neither side a multiple
    ((256, 512), 256, (1, 2), (256, 256), (256, 512)),  # exact multiples: no padding
    ((257, 256), 256, (2, 1), (256, 256), (512, 256)),  # one pixel over
    ((100, 150), 256, (1, 1), (256, 256), (256, 256)),  # smaller than a tile: one padded tile
    ((1, 1), 64, (1, 1), (64, 64), (64, 64)),
    ((600, 300), 0, (1, 1), (600, 300), (600, 300)),  # tile 0: the whole image, any shape
])
def test_grid_and_canvas(size, tile, grid, tile_hw, canvas):
    t = Tiling(size, tile)
    assert (t.tile_grid, t.tile_hw, t.canvas_size, t.num_tiles) == (grid, tile_hw, canvas, grid[0] * grid[1])
    assert t.image_size == size and t.tile == tile


def test_tile_offsets_are_row_major_top_left_pixels():
    t = Tiling((300, 520), 256)
    assert t.box_offsets().tolist() == [[0, 0, 0, 0], [256, 0, 256, 0], [512, 0, 512, 0],
                                        [0, 256, 0, 256], [256, 256, 256, 256], [512, 256, 512, 256]]
    rows, cols = t.tile_positions()
    assert rows.tolist() == [0, 0, 0, 1, 1, 1] and cols.tolist() == [0, 1, 2, 0, 1, 2]
    assert Tiling((40, 70), 0).box_offsets().tolist() == [[0, 0, 0, 0]]


def test_tile_of_a_pixel_clips_to_the_nearest_tile():
    t = Tiling((300, 520), 256)
    points = [(0, 0), (255.9, 255.9), (256, 0), (700, 300), (-5, -5), (1000, 1000), (10, 400)]
    assert t.tile_of(np.array(points)).tolist() == [0, 0, 1, 5, 0, 5, 3]
    assert t.tile_of(np.zeros((0, 2))).tolist() == []


def test_canvas_boxes_and_tile_local_boxes_are_inverse():
    t = Tiling((130, 200), 64)  # 3 x 4 tiles
    local = np.random.default_rng(1).integers(0, 64, (t.num_tiles, 5, 4))
    canvas = t.to_canvas(local)
    assert canvas.shape == (60, 4) and canvas.dtype == np.int64
    assert canvas[5 * 6].tolist() == (local[6, 0] + [128, 64, 128, 64]).tolist()  # tile 6 = row 1, col 2
    assert np.array_equal(t.to_local(canvas), local)
    with pytest.raises(GPSTokenError, match="do not split evenly into 12 tiles"):
        t.to_local(canvas[:7])


def test_pad_to_canvas_repeats_the_last_row_and_column():
    image = _image(100, 150)
    t = Tiling((100, 150), 64)
    padded = t.pad_to_canvas(image)
    assert padded.shape == (128, 192, 3)
    assert np.array_equal(padded[:100, :150], image)
    assert np.array_equal(padded[127, :150], image[99]) and np.array_equal(padded[:100, 191], image[:, 149])
    assert Tiling((128, 192), 64).pad_to_canvas(padded) is padded


@pytest.mark.parametrize("size, tile, pad, whole", [
    ((100, 150), 256, (256, (1, 1), (256, 256)), (0, (1, 1), (100, 150))),
    ((256, 256), 256, (256, (1, 1), (256, 256)), (256, (1, 1), (256, 256))),  # exactly one tile: the reference's
    ((256, 100), 256, (256, (1, 1), (256, 256)), (0, (1, 1), (256, 100))),
    ((300, 200), 256, (256, (2, 1), (512, 256)), (256, (2, 1), (512, 256))),  # larger: the policies agree
    ((300, 200), 0, (0, (1, 1), (300, 200)), (0, (1, 1), (300, 200))),
])
def test_small_image_policies(size, tile, pad, whole):
    for small, (rec, grid, canvas) in zip(SMALL_IMAGES, (pad, whole)):
        t = Tiling.for_image(size, tile, small)
        assert (t.tile, t.tile_grid, t.canvas_size) == (rec, grid, canvas), small
    assert fit_tiling(size, tile) == Tiling.for_image(size, tile, "whole")


def test_bad_tilings_are_one_line_errors():
    with pytest.raises(GPSTokenError, match="image size must be two positive integers"):
        Tiling((0, 5), 256)
    with pytest.raises(GPSTokenError, match="tile must be an integer >= 0"):
        Tiling((5, 5), -1)
    with pytest.raises(GPSTokenError, match="tile must be an integer >= 0"):
        Tiling((5, 5), 2.5)
    with pytest.raises(GPSTokenError, match="small-image policy must be one of"):
        Tiling.for_image((5, 5), 256, "crop")
    with pytest.raises(GPSTokenError, match=r"tile grid \(2, 2\) does not cover a 520x300 image in 256-px tiles "
                                            r"exactly \(that takes 2x3\)"):
        Tiling((300, 520), 256).check_grid((2, 2))
    Tiling((300, 520), 256).check_grid((2, 3))


# --- per-tile merge and split ---------------------------------------------------------------------------


def _tokens(tiles: int, n: int, seed: int = 0, step: float | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.concatenate([rng.uniform(0.01, 0.5, (tiles, n, 2)), rng.uniform(-0.9, 0.9, (tiles, n, 1)),
                        rng.uniform(-1, 1, (tiles, n, 2)), rng.normal(size=(tiles, n, 3))], axis=-1)
    if step is not None:  # values on a dyadic grid: merging into 2^k tiles is exact arithmetic
        g = np.round(g / step) * step
        g[..., :2] = np.maximum(g[..., :2], step)
    return g.astype(np.float32)


def test_one_tile_merge_and_split_are_exact_copies():
    t = Tiling((100, 150), 0)
    local = _tokens(1, 7)
    merged = t.merge_tiles(local)
    assert merged.shape == (7, 8) and np.array_equal(merged, local[0])
    assert np.array_equal(t.split_tiles(merged), local)
    merged[0, 0] = 5  # copies, not views
    assert local[0, 0, 0] != 5


def test_merge_then_split_is_bit_exact_on_dyadic_values():
    t = Tiling((500, 900), 256)  # 2 x 4 tiles
    local = _tokens(t.num_tiles, 6, step=2.0 ** -8)
    back = t.split_tiles(t.merge_tiles(local))
    assert back.dtype == np.float32 and np.array_equal(back, local)


def test_merge_places_every_token_in_its_own_tile():
    t = Tiling((300, 520), 256)  # 2 x 3 tiles: thirds are not exact, the round trip is within float32 rounding
    local = _tokens(t.num_tiles, 5, seed=3)
    merged = t.merge_tiles(local)
    assert np.array_equal(merged, merge_tiles(local, t.tile_grid)[0])
    h, w = t.canvas_size
    centres = np.stack([(merged[:, MX] + 1) * (w - 1) / 2, (merged[:, MY] + 1) * (h - 1) / 2], axis=1)
    inner = np.abs(local[..., [MX, MY]]).max(axis=-1).reshape(-1) < 0.99  # clear of the tile edges
    assert np.array_equal(t.tile_of(centres)[inner], np.repeat(np.arange(6), 5)[inner])
    np.testing.assert_allclose(t.split_tiles(merged), local, rtol=0, atol=2e-6)
    with pytest.raises(GPSTokenError, match="got tokens of 2 tiles for a 2x3 grid"):
        t.merge_tiles(local[:2])


# --- the types built on it agree --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(100, 150), (128, 192), (40, 50), (64, 64)])
def test_partition_uses_the_pad_tiling(size):
    image = _image(*size, seed=sum(size))
    tiling = Tiling.for_image(size, 64, "pad")
    part = Partitioner(image, min_size=4, tile=64)
    assert (part.tile_grid, part.tile_hw, part.canvas_hw) == (tiling.tile_grid, tiling.tile_hw, tiling.canvas_size)
    p = part.partition(6)
    assert p.tiling == tiling and (p.tile_grid, p.image_size, p.tile) == (tiling.tile_grid, size, 64)
    assert np.array_equal(p.regions_local(), tiling.to_local(p.regions))
    cover = np.zeros(tiling.canvas_size, np.int32)  # the regions tile the padded canvas exactly once
    for x0, y0, x1, y1 in p.regions:
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == 1).all()


def test_a_small_image_is_padded_for_the_partition_and_whole_for_fitting():
    image = _image(40, 50, seed=5)
    padded = partition(image, 6, min_size=4, tile=64)
    assert (padded.tile, padded.tile_hw, padded.tiling.canvas_size) == (64, (64, 64), (64, 64))
    assert padded.regions[:, 2].max() == 63 and padded.regions[:, 3].max() == 63
    fitted = adaptive_layout(image, 6, tile=64, min_size=4)
    assert (fitted.tile, fitted.tile_hw, fitted.canvas_size) == (0, (40, 50), (40, 50))
    assert fitted.regions[:, 2].max() == 49 and fitted.regions[:, 3].max() == 39
    assert Plane.for_image((40, 50), 64).size == (40, 50)


@pytest.mark.parametrize("size, tile", [((100, 150), 64), ((40, 50), 64), ((64, 64), 64), ((128, 192), 64)])
def test_layout_token_set_and_plane_share_one_tiling(size, tile):
    layout = adaptive_layout(_image(*size, seed=7), 6, tile=tile, min_size=4)
    tiling = fit_tiling(size, tile)
    assert layout.tiling == tiling
    assert (layout.tile_grid, layout.tile, layout.image_size, layout.canvas_size) == (
        tiling.tile_grid, tiling.tile, size, tiling.canvas_size)
    ts = layout.token_set()
    assert ts.tiling == tiling and ts.tile_grid == tiling.tile_grid and ts.num_tiles == tiling.num_tiles
    back = layout_from_token_set(ts, size)
    assert back.tiling == tiling and np.array_equal(back.regions, layout.regions)
    plane = Plane.for_image(size, tile)
    assert plane.tiling == tiling
    assert (plane.tile_grid, plane.tile_hw, plane.size, plane.num_tiles, plane.tile, plane.image_size) == (
        tiling.tile_grid, tiling.tile_hw, tiling.canvas_size, tiling.num_tiles, tiling.tile, size)
    centres = np.stack([(layout.regions[:, 0] + layout.regions[:, 2]) / 2,
                        (layout.regions[:, 1] + layout.regions[:, 3]) / 2], axis=1)
    assert np.array_equal(plane.tile_of(centres), np.repeat(np.arange(tiling.num_tiles), 6))


def test_grid_layout_offsets_every_tile():
    layout = grid_layout((100, 150), 4, tile=64)
    tiling = fit_tiling((100, 150), 64)
    local = tiling.to_local(layout.regions)
    assert np.array_equal(local, np.broadcast_to(local[0], local.shape))  # the same cells in every tile
    assert layout.regions[4 * 4].tolist() == (local[0, 0] + [64, 64, 64, 64]).tolist()  # tile 4: row 1, col 1
    assert layout.regions.max(axis=0)[2:].tolist() == [191, 127]


def test_a_token_file_grid_must_be_its_tiling():
    layout = grid_layout((100, 150), 4, tile=64)
    ts = layout.token_set()
    with pytest.raises(TokenFileError, match=r"tile grid \(1, 6\) does not cover a 150x100 image"):
        TokenSet(ts.g_init, ts.regions, (1, 6), ts.image_size, tile=64)
    whole = grid_layout((40, 50), 4, tile=64).token_set()
    with pytest.raises(TokenFileError, match="in one whole tile exactly"):
        TokenSet(np.concatenate([whole.g_init] * 2), np.concatenate([whole.regions] * 2), (2, 1), (40, 50), tile=0)
