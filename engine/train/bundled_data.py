"""The bundled training set: scikit-image's public-domain/CC0 sample photos plus rendered text and shapes.

``build_bundled_data(out_dir)`` writes PNGs and two list files, ``train.txt`` and ``heldout.txt``
(evaluation images never trained on). Everything is made offline from packages we depend on, and
the procedural images come from fixed seeds, so the set is the same on every machine.
Command line: ``python -m gpstoken.train.bundled_data [OUT_DIR]``.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from ..errors import GPSTokenError

# scikit-image sample files with a stated public-domain or CC0 licence (see assets/models/README.md).
REAL_TRAIN = ("camera.png", "brick.png", "cell.png", "clock_motion.png", "coins.png", "grass.png", "gravel.png",
              "horse.png", "hubble_deep_field.jpg", "ihc.png", "microaneurysms.png", "retina.jpg", "rocket.jpg",
              "text.png")
REAL_HELDOUT = ("astronaut.png", "coffee.png", "chelsea.png")
PROCEDURAL_TRAIN = 400
PROCEDURAL_HELDOUT = 3
PROCEDURAL_SIZE = 320
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))
_WORDS = ("gaussian token image pixel render encode decode spatial adaptive layout texture entropy region "
          "tile sigma rho the quick brown fox jumps over lazy dog GPSToken 2025 NeurIPS 0123456789 ABC XYZ "
          "hello world invoice total $42.00 page 17 chapter one figure table").split()


def default_data_dir() -> Path:
    """Where the bundled set is built by default: $GPSTOKEN_TRAIN_DATA or ~/.cache/gpstoken/bundled_train."""
    return Path(os.environ.get("GPSTOKEN_TRAIN_DATA", Path.home() / ".cache" / "gpstoken" / "bundled_train"))


def skimage_data_dir() -> Path:
    """The ``skimage/data`` folder of the installed scikit-image."""
    try:
        import skimage
    except ImportError:
        raise GPSTokenError("the bundled training set needs scikit-image (pip install scikit-image)") from None
    return Path(skimage.__file__).parent / "data"


def _fonts() -> list[str]:
    """The DejaVu fonts on the system (others, such as colour-emoji fonts that exist at one pixel
    size only, would change the set or fail to load)."""
    return sorted(str(p) for d in _FONT_DIRS if Path(d).is_dir() for p in Path(d).rglob("DejaVu*.ttf"))


def _random_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A flat colour, a linear gradient or smooth noise."""
    kind = rng.integers(3)
    a, b = np.array(_random_colour(rng), np.float32), np.array(_random_colour(rng), np.float32)
    if kind == 0:
        return np.broadcast_to(a, (size, size, 3)).copy()
    if kind == 1:
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / size
        t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy) / (abs(np.cos(angle)) + abs(np.sin(angle))), 0, 1)
        return a + (b - a) * t[..., None]
    import cv2

    noise = rng.random((8, 8, 3)).astype(np.float32)
    noise = cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)
    return a * 0.5 + noise * 255 * 0.5


def render_procedural(seed: int, size: int = PROCEDURAL_SIZE) -> np.ndarray:
    """One synthetic HxWx3 uint8 image: shapes and/or lines of text on a background (fixed by ``seed``)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    image = Image.fromarray(np.clip(_background(rng, size), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(0, 9))):
        box = sorted(rng.integers(0, size, 2)), sorted(rng.integers(0, size, 2))
        xy = [int(box[0][0]), int(box[1][0]), int(box[0][1]) + 2, int(box[1][1]) + 2]
        kind = rng.integers(4)
        fill = _random_colour(rng)
        if kind == 0:
            draw.ellipse(xy, fill=fill)
        elif kind == 1:
            draw.rectangle(xy, fill=fill)
        elif kind == 2:
            points = [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(int(rng.integers(3, 6)))]
            draw.polygon(points, fill=fill)
        else:
            draw.line(xy, fill=fill, width=int(rng.integers(1, 8)))
    fonts = _fonts()
    lines = int(rng.integers(0, 12)) if rng.random() < 0.8 else 0
    for _ in range(lines):
        text = " ".join(rng.choice(_WORDS, int(rng.integers(1, 6))))
        px = int(rng.integers(9, 48))
        font = ImageFont.truetype(fonts[int(rng.integers(len(fonts)))], px) if fonts else ImageFont.load_default()
        xy = (int(rng.integers(-20, size - 20)), int(rng.integers(-10, size - 10)))
        draw.text(xy, text, fill=_random_colour(rng), font=font)
    return np.asarray(image, dtype=np.uint8)


def build_bundled_data(out_dir: str | Path) -> dict[str, list[str]]:
    """Write the training and held-out images to ``out_dir`` with ``train.txt``/``heldout.txt``;
    returns the two path lists. Existing files are reused (the content is deterministic)."""
    from ..io.images import load_image, save_image

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    source = skimage_data_dir()
    lists: dict[str, list[str]] = {"train": [], "heldout": []}
    for split, names in (("train", REAL_TRAIN), ("heldout", REAL_HELDOUT)):
        for name in names:
            target = out / "images" / (Path(name).stem + ".png")
            if not target.exists():
                save_image(target, load_image(source / name))
            lists[split].append(str(target))
    for split, count, base in (("train", PROCEDURAL_TRAIN, 0), ("heldout", PROCEDURAL_HELDOUT, 1_000_000)):
        for i in range(count):
            target = out / "images" / f"synthetic_{split}_{i:04d}.png"
            if not target.exists():
                save_image(target, render_procedural(base + i))
            lists[split].append(str(target))
    for split, paths in lists.items():
        (out / f"{split}.txt").write_text("\n".join(paths) + "\n")
    (out / "manifest.json").write_text(json.dumps({"real_train": REAL_TRAIN, "real_heldout": REAL_HELDOUT,
                                                   "procedural_train": PROCEDURAL_TRAIN,
                                                   "procedural_heldout": PROCEDURAL_HELDOUT}, indent=1))
    return lists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the bundled tokenizer training set.")
    parser.add_argument("out_dir", nargs="?", default=str(default_data_dir()),
                        help="folder to write (images/, train.txt, heldout.txt); default %(default)s")
    args = parser.parse_args(argv)
    lists = build_bundled_data(args.out_dir)
    print(f"{len(lists['train'])} training and {len(lists['heldout'])} held-out images in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
