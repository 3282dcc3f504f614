"""Reading bias maps (per-pixel token density for the partition) from .npy files and images.

- ``.npy``: a 2-D array of real numbers, taken as-is (the reference's ``cdbias`` units).
- images: grey level in [0, 1] (8-bit / 255, 16-bit / 65535, colour converted to grey, EXIF
  orientation applied, alpha multiplied in so transparent pixels add nothing) times ``scale``.
  The default scale of 100 matters: a textured 256-px tile has m ~ 1e6-1e7, so per-pixel biases of
  about 10-100 move splits (facts §2).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ImageError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

# numpy and PIL are imported where used: the command line reads DEFAULT_SCALE for its help texts.

DEFAULT_SCALE = 100.0


def load_bias_map(path: str | os.PathLike, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """Read a bias map as float64 ``[H, W]``: .npy as-is, an image as grey in [0, 1] times ``scale``."""
    from PIL import ImageOps

    from .images import open_image

    p = Path(path)
    if p.suffix.lower() == ".npy":
        return _load_npy(p)
    try:
        with open_image(p, "bias map") as im:
            im.load()
            return _grey_unit(ImageOps.exif_transpose(im)) * float(scale)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{p.name}: not a readable bias image or .npy ({type(exc).__name__})") from None


def _load_npy(p: Path) -> np.ndarray:
    import numpy as np

    from .arrays import load_npy

    a = load_npy(p, ImageError, "bias map")
    if a.ndim != 2 or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImageError(f"{p.name}: a bias map must be a 2-D array of real numbers, got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise ImageError(f"{p.name}: the bias map holds NaN or infinite values")
    return a.astype(np.float64)


def _grey_unit(im: Image.Image) -> np.ndarray:
    import numpy as np

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return np.asarray(im, dtype=np.float64) / 65535.0
    if im.mode == "F":
        return np.asarray(im, dtype=np.float64)
    grey_alpha = np.asarray(im.convert("LA"), dtype=np.float64) / 255.0
    return grey_alpha[:, :, 0] * grey_alpha[:, :, 1]
