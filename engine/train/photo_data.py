"""A licence-clean training set of real photographs from Debian wallpaper packages and scikit-image.

``build_photo_data(out_dir)`` finds the wallpapers of the installed packages in :data:`PACKAGES`,
keeps a file only when its package's copyright file (``/usr/share/doc/PKG/copyright``) gives it a
free licence, and cuts each training photo into square crops at several scales (the whole shorter
side, halves, quarters, eighths), each saved at 256x256. Whole photos of :data:`HELDOUT` (and
scikit-image's held-out photos) are kept apart for evaluation: no crop of them is ever trained on.
It writes ``train.txt`` (the crops, scikit-image's training photos and the bundled procedural text
and shape images), ``heldout.txt`` and ``manifest.json`` (source package, file, licence, crop of
every image). Command line: ``python -m gpstoken.train.photo_data [OUT_DIR]``
(``apt-get install mate-backgrounds plasma-workspace-wallpapers gnome-backgrounds sway-backgrounds`` first).
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GPSTokenError
from ..limits import pixel_limit_at_least
from .bundled_data import PROCEDURAL_TRAIN, REAL_HELDOUT, REAL_TRAIN, build_bundled_data

# package -> folders holding its wallpapers
PACKAGES = {
    "mate-backgrounds": ("/usr/share/backgrounds/mate",),
    "plasma-workspace-wallpapers": ("/usr/share/wallpapers",),
    "gnome-backgrounds": ("/usr/share/backgrounds/gnome",),
    "sway-backgrounds": ("/usr/share/backgrounds/sway",),
}
# Licences (as the copyright files spell them) that allow use and redistribution of derived crops.
FREE_LICENCES = ("GPL-2+", "GPL-2", "GPL-3+", "GPL-3", "LGPL-2.1+", "LGPL-3+", "Expat", "MIT", "CC0-1.0",
                 "CC-BY-SA-3.0", "CC-BY-SA-2.0", "CC-BY-3.0", "CC-BY-2.0", "public-domain")
# gnome-backgrounds' copyright file is free text, not machine-readable: its statements for the
# installed files, copied from it. Files it does not name are left out.
GNOME_LICENCES = {"adwaita-*": ("CC-BY-SA-3.0", "2011 Jakub Steiner")}
# Whole photos never cut into training crops (package, name stem).
HELDOUT = (("mate-backgrounds", "LadyBird"), ("mate-backgrounds", "Storm"),
           ("plasma-workspace-wallpapers", "ColorfulCups"), ("plasma-workspace-wallpapers", "FallenLeaf"),
           ("plasma-workspace-wallpapers", "Path"))
SCALES = (1.0, 0.5, 0.25, 0.125)  # crop side as a fraction of the photo's shorter side
CROP_SIZE = 256
MIN_SOURCE_SIDE = 192  # smaller crops would be enlarged more than 1.33x
HELDOUT_SIDE = 512  # held-out photos are stored with this shorter side (evaluation resizes to 256)
SOURCE_MAX_PIXELS = 64 * 2**20  # the packages' wallpapers are trusted and some exceed the default limit (17.9 MP)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Source:
    """One wallpaper: package, file, licence and copyright statement; ``name`` is unique in the set."""

    package: str
    path: str
    licence: str
    copyright: str
    name: str


def parse_dep5(text: str) -> list[tuple[list[str], str, str]]:
    """The ``Files`` stanzas of a machine-readable copyright file: ``(patterns, licence, copyright)``."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2)
            elif key and line.startswith((" ", "\t")):
                fields[key] += " " + line.strip()
        if "files" in fields and "license" in fields:
            licence = fields["license"].split()[0] if fields["license"].split() else ""
            stanzas.append((fields["files"].split(), licence, " ".join(fields.get("copyright", "").split())))
    return stanzas


def dep5_licence(stanzas: list[tuple[list[str], str, str]], relative: str) -> tuple[str, str] | None:
    """The licence and copyright of ``relative`` (a path inside the package's folder): the last
    stanza with a matching pattern wins, as the format says; patterns may name a sub-path."""
    found = None
    for patterns, licence, holder in stanzas:
        if any(fnmatch.fnmatch(relative, p) or relative.endswith("/" + p) or fnmatch.fnmatch(Path(relative).name, p)
               for p in patterns):
            found = (licence, holder)
    return found


def _largest(paths: list[Path]) -> Path:
    """The largest rendition of a wallpaper offered in several sizes (renditions that are links to
    another file are the same picture)."""
    return max((p.resolve() for p in paths), key=lambda p: p.stat().st_size)


def _wallpapers(package: str, root: Path) -> dict[str, Path]:
    """Name -> file of a package's wallpapers, one file per wallpaper (the largest rendition)."""
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()
                   and p.name != "screenshot.png" and p.stem != "screenshot")
    groups: dict[str, list[Path]] = {}
    for p in files:
        if package == "plasma-workspace-wallpapers":  # Name/contents/images/WxH.jpg
            key = p.relative_to(root).parts[0]
            if "images_dark" in p.parts:
                key += "-dark"
        else:  # Name.jpg, Name_3840x2160.jpg, Name_1136x640_Portrait.png
            key = re.sub(r"_\d+x\d+(_Portrait)?$", "", p.stem)
        groups.setdefault(key, []).append(p)
    return {k: _largest(v) for k, v in groups.items()}


def find_sources(packages: dict[str, tuple[str, ...]] = PACKAGES) -> tuple[list[Source], list[str]]:
    """The free wallpapers of the installed packages, and one line per file left out (and why)."""
    sources, skipped = [], []
    for package, roots in packages.items():
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if not copyright_file.is_file():
            skipped.append(f"{package}: not installed")
            continue
        text = copyright_file.read_text(errors="replace")
        stanzas = parse_dep5(text) if text.lstrip().startswith("Format:") else None
        for root in map(Path, roots):
            if not root.is_dir():
                continue
            for key, path in _wallpapers(package, root).items():
                rel = str(path.relative_to(root))
                if stanzas is not None:
                    found = dep5_licence(stanzas, rel)
                else:
                    found = next((v for pat, v in GNOME_LICENCES.items() if fnmatch.fnmatch(path.name, pat)), None)
                if found is None or found[0] not in FREE_LICENCES:
                    skipped.append(f"{package}/{rel}: licence {found[0] if found else 'not stated'}")
                    continue
                sources.append(Source(package, str(path), found[0], found[1], f"{package.split('-')[0]}_{key}"))
    return sources, skipped


def crop_boxes(height: int, width: int) -> list[tuple[int, int, int]]:
    """Square crops ``(y, x, side)`` at each of :data:`SCALES`: an evenly spaced k x k grid of
    positions for a side of 1/k of the shorter side (positions span the whole photo)."""
    short = min(height, width)
    boxes = []
    for scale in SCALES:
        side = int(round(short * scale))
        if side < MIN_SOURCE_SIDE:
            continue
        k = int(round(1 / scale))
        ys = np.linspace(0, height - side, k if height > side else 1).round().astype(int)
        xs = np.linspace(0, width - side, max(k, int(round(width / side))) if width > side else 1).round().astype(int)
        boxes += [(int(y), int(x), side) for y in ys for x in xs]
    return boxes


def build_photo_data(out_dir: str | os.PathLike) -> dict[str, list[str]]:
    """Write crops, held-out photos, ``train.txt``, ``heldout.txt`` and ``manifest.json`` to ``out_dir``;
    returns the two path lists. Existing image files are reused (the content is deterministic)."""
    with pixel_limit_at_least(SOURCE_MAX_PIXELS):
        return _build_photo_data(Path(out_dir))


def _build_photo_data(out: Path) -> dict[str, list[str]]:
    import cv2

    from ..io.images import load_image, save_image
    from .data import resize_shortest

    (out / "crops").mkdir(parents=True, exist_ok=True)
    (out / "heldout").mkdir(parents=True, exist_ok=True)
    sources, skipped = find_sources()
    if not sources:
        raise GPSTokenError("no wallpaper package with free images is installed (apt-get install "
                            + " ".join(PACKAGES) + ")")
    heldout_keys = {f"{pkg.split('-')[0]}_{stem}" for pkg, stem in HELDOUT}
    lists: dict[str, list[str]] = {"train": [], "heldout": []}
    manifest = []
    for src in sources:
        entry = {"name": src.name, "package": src.package, "source": src.path, "licence": src.licence,
                 "copyright": src.copyright}
        if src.name in heldout_keys:
            target = out / "heldout" / f"{src.name}.png"
            if not target.exists():
                save_image(target, resize_shortest(load_image(src.path), HELDOUT_SIDE))
            lists["heldout"].append(str(target))
            manifest.append({**entry, "split": "heldout", "file": str(target.relative_to(out))})
            continue
        with open(src.path, "rb") as fh:  # header only: the size decides the crops
            from PIL import Image

            width, height = Image.open(fh).size
        image = None
        boxes = crop_boxes(height, width)
        for i, (y, x, side) in enumerate(boxes):
            target = out / "crops" / f"{src.name}_{i:02d}.png"
            if not target.exists():
                image = load_image(src.path) if image is None else image
                crop = image[y:y + side, x:x + side]
                save_image(target, cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA
                                              if side > CROP_SIZE else cv2.INTER_CUBIC))
            lists["train"].append(str(target))
        manifest.append({**entry, "split": "train", "size": [width, height],
                         "file": f"crops/{src.name}_NN.png (NN = index into crops)",
                         "crops": [list(b) for b in boxes]})
    bundled = build_bundled_data(out / "bundled")
    lists["train"] += bundled["train"]
    lists["heldout"] += [str(out / "bundled" / "images" / (Path(name).stem + ".png")) for name in REAL_HELDOUT]
    for split, names in (("train", REAL_TRAIN), ("heldout", REAL_HELDOUT)):
        manifest += [{"name": Path(n).stem, "package": "scikit-image", "source": f"skimage/data/{n}",
                      "licence": "CC0 or public domain (skimage.data docstrings; assets/models/README.md)",
                      "copyright": "", "split": split, "file": f"bundled/images/{Path(n).stem}.png"}
                     for n in names]
    manifest.append({"name": "procedural", "package": "gpstoken", "split": "train",
                     "source": f"gpstoken.train.bundled_data.render_procedural, seeds 0-{PROCEDURAL_TRAIN - 1}",
                     "licence": "generated; text in the DejaVu fonts (free)", "copyright": "",
                     "file": "bundled/images/synthetic_train_NNNN.png"})
    for split, paths in lists.items():
        (out / f"{split}.txt").write_text("\n".join(paths) + "\n")
    head = {"crop_size": CROP_SIZE, "crop_box": "[y, x, side] in source pixels, resized to crop_size",
            "heldout_side": HELDOUT_SIDE}
    rows = ",\n".join(f"  {json.dumps(row)}" for row in manifest)  # one source per line
    left_out = json.dumps(skipped, indent=2)
    text = json.dumps(head, indent=1)[:-2] + f',\n "sources": [\n{rows}\n ],\n "left_out": {left_out}\n}}\n'
    (out / "manifest.json").write_text(text)
    return lists


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the photograph training set from Debian wallpaper packages.")
    parser.add_argument("out_dir", nargs="?", default=str(Path.home() / ".cache" / "gpstoken" / "photo_train"),
                        help="folder to write (crops/, heldout/, bundled/, train.txt, heldout.txt, manifest.json)")
    args = parser.parse_args(argv)
    try:
        lists = build_photo_data(args.out_dir)
    except GPSTokenError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"{len(lists['train'])} training and {len(lists['heldout'])} held-out images in {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
