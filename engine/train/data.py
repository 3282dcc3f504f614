"""Training data: image lists, augmentation, the partition in the loader workers, a step-indexed sampler.

Every random choice of a sample (crop offset, flip) is drawn from a generator seeded by
``(seed, step, slot)``, and the order of images is a permutation per epoch seeded by ``(seed, epoch)``.
The batch of a step is therefore a pure function of the step: resuming at step s continues exactly,
whatever the number of workers, and DDP ranks take disjoint slots of the same global batch.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..errors import GPSTokenError, ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class ImageList:
    """Readable image paths and how many listed files were skipped as unreadable."""

    paths: tuple[str, ...]
    skipped: int


def list_images(source: str | os.PathLike, check: bool = True) -> ImageList:
    """Images of a folder (recursively, by suffix) or of a list file (one path per line, relative to it).

    ``check`` opens each header and skips unreadable files; none readable is a GPSTokenError.
    """
    src = Path(source)
    if src.is_dir():
        candidates = sorted(str(p) for p in src.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    elif src.is_file():
        candidates = [str(p) for _, p in read_list_file(src)]
    else:
        raise GPSTokenError(f"no such data folder or list file: {src}")
    paths = [p for p in candidates if not check or _readable(p)]
    if not paths:
        raise GPSTokenError(f"{src}: no readable images ({len(candidates)} listed)")
    return ImageList(tuple(paths), len(candidates) - len(paths))


def split_heldout(paths: tuple[str, ...], heldout: str | int | None,
                  eval_images: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training, held-out) images of the data list ``paths``. ``heldout``: a folder or list file (then all
    of ``paths`` train), a count N (the last N of ``paths`` are held out; 0: none), or None: the last fifth,
    at least one and at most ``eval_images``. With none held out, the first training image is evaluated."""
    n, given = len(paths), "" if heldout is None else str(heldout).strip()
    if given and Path(given).exists():
        return tuple(paths), list_images(given).paths
    if given and not given.isdigit():
        raise GPSTokenError(f"held-out images: no such folder or list file, and not a count: {given}")
    k = int(given) if given else min(eval_images, max(1, n // 5)) if n >= 2 else 0
    if k >= n and given:
        raise GPSTokenError(f"held-out images: holding out {k} of the {n} data images leaves none to train on")
    train = tuple(paths[:n - k])
    return train, tuple(paths[n - k:]) if k else train[:1]


def read_list_file(src: Path) -> list[tuple[int, Path]]:
    """``(line number, path)`` of each entry of a list file: one path per line, relative to the file,
    ``#`` comments and blank lines skipped. A binary or non-UTF-8 file is one line naming it (and the line)."""
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise GPSTokenError(f"{src}: cannot read the list file ({exc.strerror or type(exc).__name__})") from None
    if b"\0" in data:
        raise GPSTokenError(f"{src} is a binary file, not a list of image paths (give a folder or a text file "
                            "with one path per line)")
    entries = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise GPSTokenError(f"{src} line {number}: not UTF-8 text (a list file holds one image path "
                                "per line)") from None
        if line and not line.startswith("#"):
            entries.append((number, Path(line) if Path(line).is_absolute() else src.parent / line))
    return entries


def _readable(path: str) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:  # any decoder failure means unreadable
        return False


def resize_shortest(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the shorter side is ``side`` (area filter when shrinking, cubic when enlarging)."""
    import cv2

    h, w = image.shape[:2]
    s = side / min(h, w)
    if s == 1:
        return image
    size = (max(side, round(w * s)), max(side, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def center_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(image[y:y + side, x:x + side])


def eval_image(path: str, resize: int, side: int) -> np.ndarray:
    """A held-out image as evaluated: shortest side to ``resize``, centre crop ``side``."""
    from ..io.images import load_image

    return center_crop(resize_shortest(load_image(path), resize), side)


def initial_layout(image: np.ndarray, tokens: int, init: str, lam: float, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(g_init [N,5], normalised regions [N,4])`` of a square crop: the entropy partition or a grid."""
    from ..fit_init import grid_layout
    from ..partition import Partitioner
    from ..tokens import normalize_regions

    side = image.shape[0]
    if init == "grid":
        layout = grid_layout((side, side), tokens, tile=side)
        return layout.g_init.reshape(tokens, 5), normalize_regions(layout.regions, (side, side))
    p = Partitioner(image, lam=lam, min_size=min_size, tile=side).partition(tokens)
    return p.g_init.reshape(tokens, 5), p.regions_normalized().reshape(tokens, 4)


class TokenizerDataset(torch.utils.data.Dataset):
    """Items are ``(index, sample_seed)`` pairs -> dict(image [3,c,c] in [-1,1], g_init [N,5], regions [N,4])."""

    def __init__(self, paths: tuple[str, ...], crop: int, tokens: int, resize: int, init: str = "adaptive",
                 lam: float = 2.5, min_size: int = 8, random_crop: bool = True, flip: bool = True) -> None:
        self.paths, self.crop, self.tokens, self.resize = paths, crop, tokens, resize
        self.init, self.lam, self.min_size = init, lam, min_size
        self.random_crop, self.flip = random_crop, flip

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item
        rng = np.random.default_rng(seed)
        image = self._load(index, rng)
        h, w = image.shape[:2]
        if self.random_crop:
            y, x = int(rng.integers(h - self.crop + 1)), int(rng.integers(w - self.crop + 1))
            image = np.ascontiguousarray(image[y:y + self.crop, x:x + self.crop])
        else:
            image = center_crop(image, self.crop)
        if self.flip and rng.random() < 0.5:
            image = np.ascontiguousarray(image[:, ::-1])
        g_init, regions = initial_layout(image, self.tokens, self.init, self.lam, self.min_size)
        return {
            "image": torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1.0,
            "g_init": torch.from_numpy(np.ascontiguousarray(g_init, dtype=np.float32)),
            "regions": torch.from_numpy(np.ascontiguousarray(regions, dtype=np.float32)),
        }

    def _load(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """The image at ``index`` resized; a file that became unreadable is replaced by a random other."""
        from ..io.images import load_image

        for _ in range(10):
            try:
                return resize_shortest(load_image(self.paths[index]), self.resize)
            except (ImageError, OSError):
                index = int(rng.integers(len(self.paths)))
        raise GPSTokenError("the training images became unreadable")


class StepBatches(torch.utils.data.Sampler):
    """Batch sampler: for steps ``start..stop-1``, this rank's ``(index, seed)`` pairs of each global batch."""

    def __init__(self, size: int, batch: int, start: int, stop: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch, self.start, self.stop = size, batch, start, stop
        self.seed, self.rank, self.world = seed, rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            yield self.batch_for(step)

    def batch_for(self, step: int) -> list[tuple[int, int]]:
        glob = self.batch * self.world
        out = []
        for slot in range(self.rank * self.batch, (self.rank + 1) * self.batch):
            position = step * glob + slot
            epoch, offset = divmod(position, self.size)
            index = int(_permutation(self.size, self.seed, epoch)[offset])
            out.append((index, _sample_seed(self.seed, step, slot)))
        return out


@functools.lru_cache(maxsize=4)
def _permutation(size: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(size)


def _sample_seed(seed: int, step: int, slot: int) -> int:
    return int(np.random.default_rng([seed, step, slot]).integers(2**62))


def make_loader(dataset: TokenizerDataset, batches: StepBatches, workers: int) -> torch.utils.data.DataLoader:
    """A DataLoader over the step batches (partition in the workers when ``workers`` > 0)."""
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                                       persistent_workers=False, prefetch_factor=2 if workers else None)
