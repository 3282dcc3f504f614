"""Re-create docs/face_demo.png: a sketched face (a big circle, two eyes, a mouth) generated under the
Smileys class with the bundled emoji models, next to the sketch and its calibrated layout.

    .venv/bin/python docs/face_demo.py [OUT.png] [--seeds 8]

The sketch goes through the same path as ``gpstoken generate --models emoji --layout SKETCH.npy
--class "Smileys & Emotion"``: each sketched Gaussian kept as one region, the rest of the layout
inpainted by the layout model, then the texture model and the tokenizer. Row 2 shows samples of the
same class without a sketch (layouts from the layout model) for comparison.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
TILE = 64
SCALE = 3  # display upscaling of the 64-px tiles
# (centre x, centre y, box width, box height) in pixels of the 64-px tile: head, eyes, mouth. The eyes and
# the mouth sit on regions the halving can make (8x8 and 32x8 px), so each is kept as one token; the head
# matches no region (IoU < 0.5) and shapes the rest of the layout through its outline.
FACE = ((31.5, 31.5, 44, 44), (19.5, 19.5, 8, 8), (43.5, 19.5, 8, 8), (31.5, 43.5, 32, 8))


def face_sketch(tile: int = TILE) -> np.ndarray:
    """The sketch as Gaussians ``[4, 5]``: each box is the Gaussian's centre +- 1.5 sigma (normalised units)."""
    rows = []
    unit = 2.0 / (tile - 1)
    for cx, cy, w, h in FACE:
        rows.append([w / 2 * unit / 1.5, h / 2 * unit / 1.5, 0.0, cx * unit - 1, cy * unit - 1])
    return np.asarray(rows, np.float32)


def draw(image: np.ndarray, gaussians: np.ndarray, colour=(220, 40, 40)) -> np.ndarray:
    """The image upscaled with the Gaussians' 1.5-sigma ellipses (inscribed in their boxes) drawn on it."""
    import cv2

    from gpstoken.train.samples import draw_gaussians

    big = cv2.resize(image, (TILE * SCALE,) * 2, interpolation=cv2.INTER_NEAREST)
    if not len(gaussians):
        return big
    boxes = np.array(gaussians, np.float32)[:, :5]
    boxes[:, :2] *= 1.5
    return draw_gaussians(big, boxes, colour)


def main(argv: list[str] | None = None) -> int:
    from PIL import Image, ImageDraw, ImageFont

    from gpstoken.generate import generate, load_generator
    from gpstoken.generate.model_sets import load_model_set
    from gpstoken.generate.sketch import sketch_layout
    from gpstoken.models import load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "face_demo.png"))
    parser.add_argument("--seeds", type=int, default=6, help="samples per row (default 6)")
    parser.add_argument("--cfg", type=float, default=3.0, help="guidance scale (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    models = load_model_set("emoji")
    tokenizer = load_tokenizer(models.file("tokenizer"))
    layout_model, texture = load_generator(models.file("layout")), load_generator(models.file("texture"))
    label = models.class_index("Smileys & Emotion")
    cfg = texture.config
    sketch = face_sketch(cfg.tile)
    white = np.full((cfg.tile, cfg.tile, 3), 255, np.uint8)
    made = sketch_layout(sketch, cfg.tokens, cfg.tile, cfg.min_size, layout_model=layout_model, label=label,
                         generator=torch.Generator().manual_seed(0))
    print(made.summary())
    sketched, plain = [], []
    for seed in range(args.seeds):
        sketched.append(generate(texture, tokenizer, label, 1, layouts=[made.layout], method="ode", cfg_scale=args.cfg,
                                 seed=seed)[0].image())
        plain.append(generate(texture, tokenizer, label, 1, layout_model=layout_model, method="ode",
                              cfg_scale=args.cfg, seed=seed)[0].image())
    side, gap, label_h = TILE * SCALE, 6, 22
    head = [("sketch", draw(white, sketch)), ("calibrated layout", draw(white, made.layout.g_init, (60, 60, 200)))]
    width = (2 + args.seeds) * (side + gap)
    canvas = Image.new("RGB", (width, 2 * (side + label_h + gap)), (255, 255, 255))
    pen = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 14)
    except OSError:
        font = ImageFont.load_default()
    rows = [(head, sketched, "sketch"), ([], plain, "no sketch")]
    for r, (first, samples, title) in enumerate(rows):
        y = r * (side + label_h + gap)
        tiles = first + [(f"{title}: seed {s}", draw(im, np.zeros((0, 5))))
                         for s, im in enumerate(samples)]
        x0 = 0 if first else 2 * (side + gap)
        for i, (name, tile) in enumerate(tiles):
            x = x0 + i * (side + gap)
            pen.text((x + 2, y + 2), name, fill=(0, 0, 0), font=font)
            canvas.paste(Image.fromarray(tile), (x, y + label_h))
    canvas.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
