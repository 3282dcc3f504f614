"""Image loading: the documented conversions and one-line errors for bad files."""
import numpy as np
import pytest
from PIL import Image

from gpstoken.errors import ImageError
from gpstoken.io.images import image_to_tensor, load_image, save_image, tensor_to_image


def test_rgb_png_loads_unchanged(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), a)


def test_grey_becomes_three_equal_channels(tmp_path):
    g = np.arange(60, dtype=np.uint8).reshape(6, 10)
    Image.fromarray(g, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (6, 10, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], g)


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255  # top half opaque red-ish, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    np.testing.assert_array_equal(out[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(out[3, 3], [255, 255, 255])


def test_palette_image_converts(tmp_path):
    im = Image.fromarray(np.full((5, 5, 3), 40, np.uint8)).convert("P", palette=Image.ADAPTIVE)
    im.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), np.full((5, 5, 3), 40, np.uint8))


def test_sixteen_bit_grey_is_scaled_to_eight_bits(tmp_path):
    a = np.array([[0, 65535], [257 * 100, 257 * 200]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "d.png")
    out = load_image(tmp_path / "d.png")
    np.testing.assert_array_equal(out[..., 0], [[0, 255], [100, 200]])


def test_exif_rotation_is_applied(tmp_path):
    a = np.zeros((10, 20, 3), np.uint8)
    a[0, 0] = 255  # mark the top-left corner
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    im.save(tmp_path / "r.jpg", exif=exif, quality=100)
    out = load_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[0, -1].mean() > 128  # the marked corner is now top-right


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable image"),
    (b"this is not an image at all", "not a readable image"),
])
def test_garbage_files_give_one_line_errors(tmp_path, content, message):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=message) as info:
        load_image(p)
    assert "\n" not in str(info.value)


def test_truncated_png_gives_one_line_error(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "t.png")
    data = (tmp_path / "t.png").read_bytes()
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="t.png") as info:
        load_image(tmp_path / "t.png")
    assert "\n" not in str(info.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="no such image file"):
        load_image(tmp_path / "nope.png")


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    a = np.full((3, 3, 3), 7, np.uint8)
    save_image(tmp_path / "o.png", a)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]
    with pytest.raises(ImageError, match="suffix"):
        save_image(tmp_path / "o.xyz", a)
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_tensor_round_trip_is_exact_for_uint8():
    a = np.random.default_rng(2).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    t = image_to_tensor(a)
    assert t.shape == (3, 8, 9) and float(t.min()) >= -1 and float(t.max()) <= 1
    np.testing.assert_array_equal(tensor_to_image(t), a)


def test_loaded_arrays_are_writable_and_saved_files_follow_the_umask(tmp_path):
    import os

    a = np.full((4, 4, 3), 9, np.uint8)
    save_image(tmp_path / "w.png", a)
    assert load_image(tmp_path / "w.png").flags.writeable
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "w.png").stat().st_mode & 0o777 == 0o666 & ~umask
