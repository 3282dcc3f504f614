"""``gpstoken partition``: JSON equal to the API, stdout output, bias maps, overlay, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gpstoken.cli import main
from gpstoken.io.bias_map import load_bias_map
from gpstoken.io.images import load_image
from gpstoken.overlay import draw_partition
from gpstoken.partition import partition

GOLDEN = Path(__file__).parent / "golden"
ASTRONAUT = GOLDEN / "astronaut.png"


def test_json_file_equals_the_api_result(tmp_path):
    out = tmp_path / "p.json"
    assert main(["partition", str(ASTRONAUT), "--tokens", "64", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == partition(load_image(ASTRONAUT), 64).to_json()


def test_dash_writes_json_to_stdout_with_all_options(capsys):
    args = ["partition", str(GOLDEN / "rocket512.png"), "--tokens", "20", "--lam", "2", "--min-size", "4",
            "--tile", "0"]
    assert main(args + ["--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == partition(load_image(GOLDEN / "rocket512.png"), 20, lam=2.0, min_size=4, tile=0).to_json()
    assert (doc["width"], doc["height"], doc["tile"], len(doc["regions"])) == (512, 512, 0, 20)


def test_bias_png_is_grey_times_scale_and_npy_is_taken_as_is(tmp_path, capsys):
    grey = np.zeros((256, 256), np.uint8)
    grey[32:96, 128:224] = 255
    Image.fromarray(grey).save(tmp_path / "bias.png")
    np.save(tmp_path / "bias.npy", grey / 255.0 * 40)
    np.testing.assert_array_equal(load_bias_map(tmp_path / "bias.png", scale=40), grey / 255.0 * 40)
    image = load_image(ASTRONAUT)
    want = partition(image, 64, bias=grey / 255.0 * 40).to_json()
    assert want != partition(image, 64).to_json()
    for args in (["--bias", str(tmp_path / "bias.png"), "--bias-scale", "40"], ["--bias", str(tmp_path / "bias.npy")]):
        assert main(["partition", str(ASTRONAUT), "--tokens", "64", "--json", "-"] + args) == 0
        assert json.loads(capsys.readouterr().out) == want


def test_transparent_bias_pixels_add_nothing(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:4, :, 3] = 255
    Image.fromarray(rgba).save(tmp_path / "b.png")
    assert load_bias_map(tmp_path / "b.png").tolist() == [[100.0] * 8] * 4 + [[0.0] * 8] * 4


def test_overlay_is_written_and_matches_draw_partition(tmp_path):
    out, overlay = tmp_path / "p.json", tmp_path / "over.png"
    assert main(["partition", str(ASTRONAUT), "--tokens", "32", "--json", str(out), "--overlay", str(overlay)]) == 0
    image = load_image(ASTRONAUT)
    drawn = load_image(overlay)
    np.testing.assert_array_equal(drawn, draw_partition(image, partition(image, 32)))
    assert (drawn != image).mean() > 0.05


def test_overlay_draws_rectangle_edges_and_ellipses_inside_regions():
    image = np.full((64, 64, 3), 128, np.uint8)
    p = partition(image, 4, tile=0)
    rects = draw_partition(image, p, ellipses=False)
    for x0, y0, x1, y1 in p.regions:
        assert (rects[y0, x0:x1 + 1] != 128).all() and (rects[y0:y1 + 1, x1] != 128).all()
    only_ellipses = draw_partition(image, p, rectangles=False)
    changed = (only_ellipses != 128).any(axis=2)
    assert changed.any() and not changed[0].any() and not changed[:, 0].any()


def test_overlay_of_padded_image_keeps_the_image_size():
    image = np.ascontiguousarray(load_image(GOLDEN / "rocket512.png")[:300, :200])
    assert draw_partition(image, partition(image, 16)).shape == (300, 200, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.png", "--tokens", "8"], "no such image file"),
        ([str(ASTRONAUT), "--tokens", "5000"], "1..1024"),
        ([str(ASTRONAUT), "--tokens", "8", "--bias", "nope.npy"], "no such bias map"),
        ([str(ASTRONAUT), "--tokens", "8", "--tile", "-1"], "tile must be"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, tmp_path, capsys):
    assert main(["partition"] + args + ["--json", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "p.json").exists()


def test_bias_of_the_wrong_size_exits_2(tmp_path, capsys):
    np.save(tmp_path / "b.npy", np.zeros((10, 10)))
    assert main(["partition", str(ASTRONAUT), "--tokens", "8", "--bias", str(tmp_path / "b.npy"), "--json", "-"]) == 2
    assert "expected the image size 256x256" in capsys.readouterr().err
