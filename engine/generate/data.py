"""Training data for the generators: image folders (sub-folders = classes), square crops, and the
layout examples (official ``g_init`` of entropy partitions) made from them."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import GPSTokenError, ImageError
from ..io.images import load_image
from ..partition import partition
from .layout import canonical_order

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(source: str | os.PathLike) -> tuple[list[Path], list[int], list[str]]:
    """Image files of a folder (recursive, sorted) or a list file, their class ids and the class names.

    In a folder, classes are the first-level sub-folders (sorted); images directly in the folder form
    class 0 when there are no sub-folders with images. A list file (one path per line) is one class.
    """
    root = Path(source)
    if root.is_file():
        from ..train.data import list_images as list_file

        paths = [Path(p) for p in list_file(root, check=False).paths]
        return paths, [0] * len(paths), ["all"]
    if not root.is_dir():
        raise GPSTokenError(f"no such data folder or list file: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GPSTokenError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    groups = [p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else "" for p in files]
    names = sorted(set(groups))
    if names == [""]:
        return files, [0] * len(files), ["all"]
    index = {n: i for i, n in enumerate(names)}
    return files, [index[g] for g in groups], [n or "." for n in names]


MIN_SIDE = 8  # the smallest crop square_image takes


def load_readable(files: list[Path], labels: list[int]) -> tuple[list[np.ndarray], list[int]]:
    """The images that load (unreadable files are skipped) and their labels; none readable is an error,
    and so is an image too small to crop (named)."""
    images, kept = [], []
    for path, label in zip(files, labels):
        try:
            image = load_image(path)
        except ImageError:
            continue
        if min(image.shape[:2]) < MIN_SIDE:
            raise GPSTokenError(f"{path}: {image.shape[1]}x{image.shape[0]} is smaller than {MIN_SIDE} px a side "
                                "(remove it from the data)")
        images.append(image)
        kept.append(label)
    if not images:
        raise GPSTokenError(f"none of the {len(files)} image files could be read")
    return images, kept


def square_image(image: np.ndarray, size: int = 256, rng: np.random.Generator | None = None,
                 min_crop: float = 0.5) -> np.ndarray:
    """The reference's preprocessing: shorter side to ``size``, centre crop. With ``rng``: a random
    crop of ``min_crop``-100 % of the shorter side, a random horizontal flip (augmentation)."""
    h, w = image.shape[:2]
    side = min(h, w)
    if rng is None:
        y0, x0 = (h - side) // 2, (w - side) // 2
    else:
        side = max(MIN_SIDE, int(side * rng.uniform(min_crop, 1.0)))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    out = cv2.resize(crop, (size, size), interpolation=interp)
    if rng is not None and rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def layout_examples(source: str | os.PathLike, tokens: int, *, count: int | None = None, size: int = 256,
                    lam: float = 2.5, min_size: int = 8, seed: int = 0,
                    min_crop: float = 0.5) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``g_init [D,N,5]`` (canonical order) of partitions of the images of ``source`` and their class ids.

    ``count=None``: one centre crop per image; otherwise ``count`` random augmented crops (``min_crop``
    to 100 % of the shorter side, random flips).
    """
    files, labels, names = list_images(source)
    images, labels = load_readable(files, labels)
    rng = None if count is None else np.random.default_rng(seed)
    picks = range(len(images)) if count is None else rng.integers(0, len(images), size=count)
    g_all, y_all = [], []
    for i in picks:
        g = partition(square_image(images[i], size, rng, min_crop), tokens, lam=lam, min_size=min_size,
                      tile=size).g_init
        g_all.append(g[canonical_order(g)])
        y_all.append(labels[i])
    return np.stack(g_all).astype(np.float32), np.asarray(y_all, dtype=np.int64), names


INDEX_FILE = "index.json"


def extract_tokens(tokenizer, source: str | os.PathLike, out: str | os.PathLike, *, tokens_per_tile: int | None = None,
                   size: int = 256, progress=None, min_size: int = 8, flip: bool = False) -> dict:
    """Encode every image of ``source`` (shorter side to ``size``, centre crop; entropy partition with
    regions of at least ``min_size`` px) into ``out/<name>.npz`` token files and write
    ``out/index.json`` (files, class ids, class names, tokenizer config). ``flip``: also encode each
    image mirrored left-right (``<name>__flip.npz``), doubling the examples."""
    import json

    from ..io.atomic import atomic_path
    from ..models.pipeline import encode_image, partition_image
    from ..models.token_files import token_set_from_partition

    files, labels, names = list_images(source)
    root, out_dir = Path(source), Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, kept_labels, skipped = [], [], 0
    for i, (path, label) in enumerate(zip(files, labels)):
        try:
            image = square_image(load_image(path), size)
        except ImageError:
            skipped += 1
            continue
        if root.is_dir():
            stem = "__".join(path.relative_to(root).with_suffix("").parts)
        else:  # list files may name equal file names in different folders
            stem = f"{i:06d}_{path.stem}"
        for suffix, view in (("", image), ("__flip", np.ascontiguousarray(image[:, ::-1])))[:2 if flip else 1]:
            layout, tokens = encode_image(tokenizer, view, partition_image(tokenizer, view, tokens_per_tile,
                                                                           min_size=min_size))
            token_set_from_partition(layout, tokens).save(out_dir / f"{stem}{suffix}.npz")
            written.append(f"{stem}{suffix}.npz")
            kept_labels.append(label)
        if progress is not None:
            progress(i + 1, len(files))
    if not written:
        raise GPSTokenError(f"none of the {len(files)} image files could be read")
    index = {"files": written, "labels": kept_labels, "classes": names, "skipped": skipped,
             "tokenizer": tokenizer.config.to_dict()}
    with atomic_path(out_dir / INDEX_FILE) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


def read_index(path: Path) -> dict:
    """A token dataset's ``index.json``, checked: ``files`` (names in the folder), ``labels`` (one int each)
    and ``classes``; anything else is one line naming the file and the key."""
    import json

    try:
        index = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GPSTokenError(f"{path}: not a readable JSON index ({type(exc).__name__}); rewrite it with "
                            "gpstoken extract") from None
    if not isinstance(index, dict):
        raise GPSTokenError(f"{path}: the index must be a JSON object")
    files, labels, classes = index.get("files"), index.get("labels"), index.get("classes")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise GPSTokenError(f"{path}: 'files' must be a non-empty list of token file names")
    outside = [f for f in files if Path(f).name != f]
    if outside:
        raise GPSTokenError(f"{path}: 'files' must name files inside the folder, got {outside[0]!r}")
    if not isinstance(classes, list) or not classes:
        raise GPSTokenError(f"{path}: 'classes' must be a non-empty list of class names")
    if (not isinstance(labels, list) or len(labels) != len(files)
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(classes) for v in labels)):
        raise GPSTokenError(f"{path}: 'labels' must hold one class id in 0..{len(classes) - 1} per file")
    return index


def token_examples(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``tokens [D,N,5+C]``, ``g_init [D,N,5]`` and class ids ``[D]`` of the token files of an extracted
    dataset (one example per tile), and the class names."""

    from ..io.tokenfile import TokenSet

    root = Path(folder)
    index_path = root / INDEX_FILE
    if not index_path.is_file():
        raise GPSTokenError(f"{root} is not a token dataset (no {INDEX_FILE}; make one with gpstoken extract)")
    index = read_index(index_path)
    tokens, g_init, labels = [], [], []
    for name, label in zip(index["files"], index["labels"]):
        ts = TokenSet.load(root / name)
        if ts.tokens is None:
            raise GPSTokenError(f"{name} holds no tokens (a layout-only file)")
        tokens.append(ts.tokens)
        g_init.append(ts.g_init)
        labels += [label] * ts.num_tiles
    shapes = {t.shape[1:] for t in tokens}
    if len(shapes) != 1:
        raise GPSTokenError(f"the token files of {root} disagree in token count or channels: {sorted(shapes)}")
    return (np.concatenate(tokens), np.concatenate(g_init), np.asarray(labels, dtype=np.int64),
            list(index["classes"]))
