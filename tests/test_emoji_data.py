"""The emoji data set: emoji-test.txt parsing, the fixed held-out split, rendering on white."""
import numpy as np
import pytest
from gpstoken.errors import GPSTokenError
from gpstoken.train.emoji_data import EMOJI_FONT, GROUPS, class_folder, heldout_mask, read_emoji_test, render_emoji

EMOJI_TEST = """# group: Smileys & Emotion

# subgroup: face-smiling
1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face
263A                                                   ; unqualified         # ☺ E0.6 smiling face

# group: People & Body
# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FB                                            ; fully-qualified     # 👋🏻 E1.0 waving hand: light skin tone

# group: Component
1F3FB                                                  ; component           # 🏻 E1.0 light skin tone

# group: Flags
# subgroup: country-flag
1F1FA 1F1F8                                            ; fully-qualified     # 🇺🇸 E0.6 flag: United States
"""


def test_read_emoji_test_keeps_fully_qualified_without_skin_tones(tmp_path):
    path = tmp_path / "emoji-test.txt"
    path.write_text(EMOJI_TEST, encoding="utf-8")
    emoji = read_emoji_test(path)
    assert [(e.codepoints, e.group, e.name) for e in emoji] == [
        ((0x1F600,), 0, "grinning face"), ((0x1F44B,), 1, "waving hand"),
        ((0x1F1FA, 0x1F1F8), 8, "flag: United States")]
    assert emoji[2].stem == "1f1fa_1f1f8" and emoji[1].subgroup == "hand-fingers-open"


def test_missing_or_empty_emoji_test_is_one_line(tmp_path):
    with pytest.raises(GPSTokenError, match="install the unicode-data package"):
        read_emoji_test(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(GPSTokenError, match="no emoji found"):
        read_emoji_test(tmp_path / "empty.txt")


def test_heldout_split_is_a_fixed_tenth_and_at_least_one():
    mask = heldout_mask(327, 1)
    assert mask.sum() == 33 and np.array_equal(mask, heldout_mask(327, 1))
    assert not np.array_equal(mask, heldout_mask(327, 2))
    assert heldout_mask(3, 0).sum() == 1


def test_class_folders_sort_in_group_order():
    folders = [class_folder(i) for i in range(len(GROUPS))]
    assert sorted(folders) == folders and folders[8] == "8 Flags"


@pytest.mark.skipif(not EMOJI_FONT.is_file(), reason="needs fonts-noto-color-emoji")
def test_render_emoji_is_a_centred_glyph_on_white():
    image = render_emoji("\U0001F600", 64)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert (image[0, 0] == 255).all() and (image[-1, -1] == 255).all()
    centre = image[24:40, 24:40].astype(int)
    assert (centre.sum(-1) < 3 * 250).mean() > 0.9  # the yellow face, not white
    assert render_emoji("\U0001F600\U0001F600", 64) is None  # two glyphs
