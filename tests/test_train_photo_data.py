"""The photograph set's building blocks: crop grids, licence lookup and the trusted-source pixel limit."""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpstoken.errors import ImageError
from gpstoken.io.images import load_image
from gpstoken.limits import MAX_PIXELS_ENV, max_pixels, pixel_limit_at_least
from gpstoken.train.photo_data import CROP_SIZE, MIN_SOURCE_SIDE, SCALES, crop_boxes, dep5_licence, parse_dep5

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: backgrounds

Files: *
Copyright: 2010 Someone
License: GPL-2+

Files: nonfree/*.jpg
 extra.png
Copyright: 2012 Other
  Person
License: CC-BY-NC-3.0
 Long text of the licence.
"""


def test_crop_boxes_cover_the_photo_at_every_scale_and_stay_inside_it():
    height, width = 2160, 3840
    boxes = crop_boxes(height, width)
    for scale in SCALES:
        side = round(height * scale)
        at_scale = [(y, x) for y, x, s in boxes if s == side]
        assert at_scale, f"no crops at scale {scale}"
        ys, xs = {y for y, _ in at_scale}, {x for _, x in at_scale}
        assert min(ys) == 0 and max(ys) == height - side
        assert min(xs) == 0 and max(xs) == width - side
    assert all(0 <= y and y + s <= height and 0 <= x and x + s <= width for y, x, s in boxes)


def test_crop_boxes_skip_scales_that_would_enlarge_too_much():
    sides = {s for _, _, s in crop_boxes(800, 1000)}
    assert sides == {800, 400, 200}  # 100 px is below MIN_SOURCE_SIDE
    assert min(sides) >= MIN_SOURCE_SIDE and CROP_SIZE == 256


def test_dep5_licence_takes_the_last_matching_stanza_and_reads_continuation_lines():
    stanzas = parse_dep5(DEP5)
    assert stanzas[1] == (["nonfree/*.jpg", "extra.png"], "CC-BY-NC-3.0", "2012 Other Person")
    assert dep5_licence(stanzas, "photos/Tree.jpg") == ("GPL-2+", "2010 Someone")
    assert dep5_licence(stanzas, "nonfree/Car.jpg") == ("CC-BY-NC-3.0", "2012 Other Person")
    assert dep5_licence(stanzas, "sub/extra.png") == ("CC-BY-NC-3.0", "2012 Other Person")
    assert dep5_licence(parse_dep5("Files: a.png\nLicense: MIT\n"), "b.png") is None


def test_pixel_limit_at_least_raises_the_limit_inside_the_block_and_restores_it(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((4, 64, 3), np.uint8)).save(path)
    pil_limit = Image.MAX_IMAGE_PIXELS
    monkeypatch.setenv(MAX_PIXELS_ENV, "100")
    with pytest.raises(ImageError, match="over the 100 pixel limit"):
        load_image(path)
    assert Image.MAX_IMAGE_PIXELS == pil_limit  # PIL's own limit (font rendering reads it) is left as it was
    with pixel_limit_at_least(256):
        assert max_pixels() == 256
        assert load_image(path).shape == (4, 64, 3)
    assert max_pixels() == 100
    with pixel_limit_at_least(50):  # never lowers it
        assert max_pixels() == 100
    monkeypatch.delenv(MAX_PIXELS_ENV)
    with pixel_limit_at_least(2**30):
        assert max_pixels() == 2**30
    assert MAX_PIXELS_ENV not in os.environ
