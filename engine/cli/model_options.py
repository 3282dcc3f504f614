"""Options and helpers shared by the commands that run a tokenizer (encode, decode, reconstruct)."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import GPSTokenError
from ..io.atomic import atomic_path, check_output_file

if TYPE_CHECKING:
    import numpy as np
    import torch
    from tqdm import tqdm

    from ..models import GPSTokenizer

DEVICES = ("auto", "cpu", "cuda", "mps")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SIZE_POLICY = ("sides that are not multiples of the model's tile (256) are edge-padded at the bottom/right "
               "to whole tiles; the reconstruction is cropped back to the image size")


def add_model_options(p: argparse.ArgumentParser, model_required: bool) -> None:
    """``--model``, ``--config``, ``--device``, ``--precision`` and ``--quiet``."""
    p.add_argument("--model", required=model_required, metavar="CKPT",
                   help="tokenizer checkpoint (.safetensors, or a training checkpoint .pt)" + ("" if model_required else
                        " (default: $GPSTOKEN_MODEL, else the bundled assets/models/default.safetensors)"))
    p.add_argument("--config", metavar="YAML",
                   help="config of an official checkpoint (its YAML) or a preset name (s64, m128, l256, tiny)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where the model runs (default auto: CUDA, MPS, CPU)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default=None,
                   help="default: bf16 autocast on a GPU, fp32 on the CPU")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def model_path(args: argparse.Namespace) -> Path:
    """The checkpoint of ``--model``, else the default model's."""
    from ..models.default_model import default_model_path

    if args.model is None and args.config is not None:
        raise GPSTokenError("--config needs --model (the default model carries its own config)")
    return Path(args.model) if args.model is not None else default_model_path()


def load_model(args: argparse.Namespace) -> GPSTokenizer:
    """The tokenizer named by ``--model``/``--config`` (or the default model) on ``--device``."""
    from ..models import load_tokenizer

    return load_tokenizer(model_path(args), args.config, device=resolve_device(args.device))


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the best device present; an explicit one must exist here."""
    import torch

    from ..settings import default_device

    if name == "auto":
        return default_device()
    if name == "cuda" and not torch.cuda.is_available():
        raise GPSTokenError("--device cuda: no CUDA device is available here")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise GPSTokenError("--device mps: no MPS device is available here")
    return torch.device(name)


def precision(args: argparse.Namespace) -> str:
    """The pipeline's precision name: the option, or ``auto`` (bf16 on CUDA, fp32 elsewhere)."""
    return args.precision or "auto"


def check_output(path: str, allow_npy: bool, what: str = "--out") -> Path:
    """Refuse, before any work is done, an output we cannot write (suffix, folder, device, parent)."""
    return check_output_file(path, what, IMAGE_SUFFIXES + ((".npy",) if allow_npy else ()))


def check_json_output(path: str | None, what: str = "--json") -> None:
    """Refuse, before any work is done, a JSON output path we cannot write (``-`` is stdout)."""
    if path is not None and path != "-":
        check_output_file(path, what)


def write_recon(path: Path, recon: np.ndarray) -> None:
    """``.npy``: the raw float32 ``[3,H,W]`` decoder output (unclamped); images: clamped 8-bit RGB."""
    import numpy as np

    from ..io.images import save_image
    from ..models.pipeline import to_uint8

    if path.suffix.lower() == ".npy":
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(recon, dtype=np.float32))
    else:
        save_image(path, to_uint8(recon))


def progress(total: int, unit: str, quiet: bool) -> tqdm:
    """A progress bar on stderr (official-size models take seconds per image on a CPU). Shown only on a
    terminal and cleared when it closes, so an error line that follows starts a line of its own."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, disable=True if quiet else None, leave=False,
                dynamic_ncols=True)


def json_number(v: float) -> float | None:
    """JSON has no inf: the PSNR of an identical reconstruction is written as null."""
    return float(v) if math.isfinite(v) else None
