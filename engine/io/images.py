"""Images in and out: any common format to uint8 RGB, with the conversions users expect.

Conversions on load (documented behaviour, tested):
- EXIF orientation is applied, so the pixels are upright as viewers show them;
- grey, 1-bit and palette images become RGB; alpha (RGBA, LA, palette transparency) is composited
  over white;
- 16-bit images are scaled to 8 bits (v * 255 / 65535, rounded); float images are taken as [0, 1];
- images over the pixel limit (``$GPSTOKEN_MAX_PIXELS``, see :mod:`gpstoken.limits`) are refused from
  their header, before decoding (decompression-bomb guard).
"""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import GPSTokenError, ImageError
from ..limits import MAX_PIXELS_ENV, check_pixels, max_pixels
from .atomic import atomic_path


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB ``[H, W, 3]``, or raise a one-line ImageError."""
    p = Path(path)
    try:
        with open_image(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return pil_to_rgb(im)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{p.name}: corrupt or truncated image ({_first_line(exc)})") from None


@contextlib.contextmanager
def open_image(path: str | os.PathLike, what: str = "image") -> Iterator[Image.Image]:
    """``Image.open`` with one-line errors; the declared size is checked against the pixel limit
    (``$GPSTOKEN_MAX_PIXELS``, which replaces PIL's decompression-bomb limit) before any pixel is decoded."""
    p = Path(path)
    if p.is_dir():
        raise ImageError(f"{p} is a folder, not an {what} file")
    if not p.is_file():
        raise ImageError(f"no such {what} file: {p}")
    pil_limit = Image.MAX_IMAGE_PIXELS  # restored on exit: PIL's font rendering reads it too
    try:
        try:
            limit = max_pixels()
            Image.MAX_IMAGE_PIXELS = limit  # PIL warns above it and refuses above twice it; we refuse above it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(p)
        except GPSTokenError as exc:
            raise ImageError(str(exc)) from None
        except Image.DecompressionBombError:
            raise ImageError(f"{p.name}: over the {limit:,} pixel limit (raise it with ${MAX_PIXELS_ENV})") from None
        except UnidentifiedImageError:
            raise ImageError(f"{p.name}: not a readable {what} (UnidentifiedImageError)") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageError(f"{p.name}: corrupt or truncated {what} ({_first_line(exc)})") from None
        with im:
            try:
                check_pixels(im.width, im.height, p.name)
            except GPSTokenError as exc:
                raise ImageError(str(exc)) from None
            yield im
    finally:
        Image.MAX_IMAGE_PIXELS = pil_limit


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to uint8 RGB ``[H, W, 3]`` (alpha over white)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(a * 255.0 / top), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode == "F":
        grey = np.clip(np.rint(np.asarray(im, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    return np.array(im.convert("RGB"), dtype=np.uint8)  # a writable copy


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a uint8 ``[H, W, 3]`` or ``[H, W]`` image atomically; the format follows the suffix."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3):
        raise ImageError(f"save_image needs a uint8 HxW or HxWx3 array, got {a.dtype} {a.shape}")
    with atomic_path(path) as tmp:
        try:
            Image.fromarray(a).save(tmp, format=_format_for(Path(path)))
        except (KeyError, ValueError, OSError) as exc:
            raise ImageError(f"cannot write {Path(path).name}: {_first_line(exc)}") from None


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` -> float32 ``[3, H, W]`` in [-1, 1] (x / 127.5 - 1, as the reference)."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 127.5 - 1.0


def tensor_to_image(x: torch.Tensor) -> np.ndarray:
    """float ``[3, H, W]`` in [-1, 1] -> uint8 ``[H, W, 3]``, clamped and rounded."""
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(1, 2, 0).cpu().numpy()


def _format_for(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    formats = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "bmp": "BMP", "tif": "TIFF", "tiff": "TIFF", "webp": "WEBP"}
    if ext not in formats:
        raise ImageError(f"unsupported image suffix '.{ext}' for {path.name} (use .png, .jpg, .bmp, .tif or .webp)")
    return formats[ext]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
