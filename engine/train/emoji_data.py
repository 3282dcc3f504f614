"""The emoji data set: Noto Color Emoji glyphs on white, classed by the nine Unicode emoji groups.

``build_emoji_data(out_dir)`` renders every fully-qualified emoji of Unicode's ``emoji-test.txt``
(Debian ``unicode-data``) without skin-tone modifiers with the Noto Color Emoji font (Debian
``fonts-noto-color-emoji``), centred on a white square of ``size`` pixels, into
``train/<NN group>/<codepoints>.png`` and ``heldout/<NN group>/<codepoints>.png``: a fixed ~10 % of
each group (whole emoji) is held out. Class folders sort in Unicode's group order, so class ids are
the group order. Sequences the font does not draw as one glyph are skipped (listed in the manifest).
Command line: ``python -m gpstoken.train.emoji_data [OUT_DIR] [--size 64]``.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GPSTokenError

EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
GROUPS = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
          "Activities", "Objects", "Symbols", "Flags")
SKIN_TONES = range(0x1F3FB, 0x1F400)
FONT_PX = 109  # the one bitmap strike of the CBDT font
HELDOUT_FRACTION = 0.1
SPLIT_SEED = 14
MARGIN = 0.06  # white border around the glyph, as a fraction of the side


@dataclass(frozen=True)
class Emoji:
    """One emoji: its code points, CLDR name, group index (class id) and subgroup."""

    codepoints: tuple[int, ...]
    name: str
    group: int
    subgroup: str

    @property
    def text(self) -> str:
        return "".join(chr(c) for c in self.codepoints)

    @property
    def stem(self) -> str:
        return "_".join(f"{c:04x}" for c in self.codepoints)


def class_folder(group: int) -> str:
    """The folder of a class: its index and name, so folders sort in group order."""
    return f"{group} {GROUPS[group]}"


def read_emoji_test(path: str | os.PathLike = EMOJI_TEST) -> list[Emoji]:
    """Fully-qualified emoji of an ``emoji-test.txt`` in the nine groups, without skin-tone variants."""
    p = Path(path)
    if not p.is_file():
        raise GPSTokenError(f"no {p}: install the unicode-data package (apt-get install unicode-data)")
    out, group, subgroup = [], None, ""
    for line in p.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            name = line.split(":", 1)[1].strip()
            group = GROUPS.index(name) if name in GROUPS else None
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#") and group is not None:
            fields, _, comment = line.partition("#")
            codes, _, status = fields.partition(";")
            if status.strip() != "fully-qualified":
                continue
            cps = tuple(int(c, 16) for c in codes.split())
            if any(c in SKIN_TONES for c in cps):
                continue
            name = comment.strip().split(" ", 2)[-1]  # "<emoji> E<version> <name>"
            out.append(Emoji(cps, name, group, subgroup))
    if not out:
        raise GPSTokenError(f"{p}: no emoji found (not an emoji-test.txt?)")
    return out


def render_emoji(text: str, size: int, font=None) -> np.ndarray | None:
    """The emoji as a ``size`` x ``size`` x 3 uint8 image on white (glyph box centred, aspect kept),
    or None when the font draws the text as more than one glyph or not at all."""
    from PIL import Image, ImageDraw

    font = font or load_font()
    canvas = Image.new("RGBA", (FONT_PX * 4, FONT_PX * 2), (255, 255, 255, 0))
    ImageDraw.Draw(canvas).text((FONT_PX // 2, FONT_PX // 2), text, font=font, embedded_color=True)
    box = canvas.getchannel("A").getbbox()
    if box is None:
        return None
    w, h = box[2] - box[0], box[3] - box[1]
    if w > 1.4 * FONT_PX or h > 1.4 * FONT_PX:  # a sequence shown as several glyphs
        return None
    glyph = canvas.crop(box)
    side = int(round(max(w, h) / (1 - 2 * MARGIN)))
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - w) // 2, (side - h) // 2))
    return np.asarray(square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def load_font(path: str | os.PathLike = EMOJI_FONT):
    """The Noto Color Emoji font at its bitmap size (raqm layout, so ZWJ sequences form one glyph)."""
    from PIL import ImageFont, features

    if not Path(path).is_file():
        raise GPSTokenError(f"no {path}: install the fonts-noto-color-emoji package")
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), FONT_PX, layout_engine=engine)


def heldout_mask(count: int, seed: int) -> np.ndarray:
    """Which of ``count`` emoji of one group are held out: a fixed random ``HELDOUT_FRACTION`` (at least one)."""
    k = max(1, int(round(count * HELDOUT_FRACTION)))
    mask = np.zeros(count, dtype=bool)
    mask[np.random.default_rng([SPLIT_SEED, seed]).permutation(count)[:k]] = True
    return mask


def build_emoji_data(out_dir: str | Path, size: int = 64) -> dict[str, list[str]]:
    """Render the set into ``out_dir`` (train/, heldout/, train.txt, heldout.txt, manifest.json);
    returns the two path lists. The content depends only on the two packages and ``size``."""
    from ..io.images import save_image

    out = Path(out_dir)
    font = load_font()
    emoji = read_emoji_test()
    lists: dict[str, list[str]] = {"train": [], "heldout": []}
    rows, skipped = [], []
    for group in range(len(GROUPS)):
        members = [e for e in emoji if e.group == group]
        drawn = [(e, img) for e in members if (img := render_emoji(e.text, size, font)) is not None]
        skipped += [e.name for e in members if e not in {d[0] for d in drawn}]
        for (e, image), held in zip(drawn, heldout_mask(len(drawn), group), strict=True):
            split = "heldout" if held else "train"
            target = out / split / class_folder(group) / f"{e.stem}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            save_image(target, image)
            lists[split].append(str(target))
            rows.append({"file": str(target.relative_to(out)), "name": e.name, "group": group,
                         "subgroup": e.subgroup, "split": split})
    for split, paths in lists.items():
        (out / f"{split}.txt").write_text("\n".join(paths) + "\n")
    (out / "manifest.json").write_text(json.dumps({"classes": list(GROUPS), "size": size, "emoji": rows,
                                                   "skipped": skipped}, indent=1))
    return lists


def default_emoji_dir() -> Path:
    """Where the set is built by default: $GPSTOKEN_EMOJI_DATA or ~/.cache/gpstoken/emoji."""
    return Path(os.environ.get("GPSTOKEN_EMOJI_DATA", Path.home() / ".cache" / "gpstoken" / "emoji"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the emoji training set (Noto Color Emoji, 9 groups).")
    parser.add_argument("out_dir", nargs="?", default=str(default_emoji_dir()),
                        help="folder to write (train/, heldout/, *.txt, manifest.json); default %(default)s")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    args = parser.parse_args(argv)
    if args.size < 8:
        raise SystemExit("--size must be >= 8")
    lists = build_emoji_data(args.out_dir, args.size)
    print(f"{len(lists['train'])} training and {len(lists['heldout'])} held-out emoji in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
