"""Image-level use of a tokenizer: partition an RGB image into tiles, encode, decode, reconstruct.

Everything here runs under ``torch.inference_mode``; ``precision="auto"`` uses bf16 autocast on CUDA
and float32 elsewhere (``"bf16"`` forces autocast on any device, ``"fp32"`` disables it).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np
import torch

from ..errors import GPSTokenError
from ..tiling import Tiling
from .tokenizer import GPSTokenizer

if TYPE_CHECKING:
    from ..partition import Partition

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True, eq=False)
class Reconstruction:
    """The partition used, the tokens ``[T,N,5+C]`` (float32) and the raw reconstruction
    ``[3,H,W]`` (float32, unclamped, cropped to the image) with the decode mode that made it."""

    partition: Partition
    tokens: np.ndarray
    recon: np.ndarray
    mode: str

    def image(self) -> np.ndarray:
        """The reconstruction as HxWx3 uint8, quantised as the reference saves it (truncated)."""
        return to_uint8(self.recon)


@contextlib.contextmanager
def inference_context(device: torch.device, precision: str = "auto") -> Iterator[None]:
    """``torch.inference_mode`` plus bf16 autocast where ``precision`` asks for it."""
    with torch.inference_mode(), autocast_context(device, precision):
        yield


def autocast_context(device: torch.device, precision: str = "auto") -> torch.autocast:
    """bf16 autocast where ``precision`` asks for it ("auto": on CUDA), else a disabled autocast."""
    if precision not in PRECISIONS:
        raise GPSTokenError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> ``[1,3,H,W]`` float32 in [-1,1] (x/127.5 - 1, as the reference)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise GPSTokenError(f"image must be an HxWx3 uint8 RGB array, got {getattr(image, 'dtype', type(image))} {shape}")
    return torch.from_numpy(image.astype(np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]


def to_uint8(recon: np.ndarray) -> np.ndarray:
    """Raw ``[3,H,W]`` output -> HxWx3 uint8: clamp to [-1,1], (x+1)*127.5, truncated like the reference."""
    x = np.clip(np.asarray(recon, dtype=np.float32), -1.0, 1.0)
    return ((x + 1.0) * 127.5).astype(np.uint8).transpose(1, 2, 0)


def partition_image(model: GPSTokenizer, image: np.ndarray, tokens_per_tile: int | None = None,
                    bias: np.ndarray | None = None, lam: float | None = None, min_size: int = 8) -> Partition:
    """The entropy partition of ``image`` in the model's tiles (default: the model's token count and lambda)."""
    from ..partition import partition

    cfg = model.config
    return partition(image, tokens_per_tile or cfg.gps_num, lam=cfg.gps_adaptive_w if lam is None else lam,
                     min_size=min_size, tile=cfg.tile_size, bias=bias)


def encode_image(model: GPSTokenizer, image: np.ndarray, layout: Partition | None = None,
                 tokens_per_tile: int | None = None, precision: str = "auto",
                 tiles_per_batch: int = 4) -> tuple[Partition, np.ndarray]:
    """Encode every tile of ``image``; returns ``(partition, tokens [T,N,5+C])``.

    ``layout``: a Partition to use (from :func:`partition_image`, a token file or the editor);
    by default the image is partitioned with ``tokens_per_tile``.
    """
    cfg = model.config
    layout = layout if layout is not None else partition_image(model, image, tokens_per_tile)
    if tuple(layout.tile_hw) != (cfg.tile_size, cfg.tile_size):
        raise GPSTokenError(f"the layout uses {layout.tile_hw[0]}x{layout.tile_hw[1]} tiles; "
                            f"this model needs {cfg.tile_size}x{cfg.tile_size}")
    if tuple(layout.image_size) != tuple(image.shape[:2]):
        raise GPSTokenError(f"the layout is for a {layout.image_size[0]}x{layout.image_size[1]} image, "
                            f"not {image.shape[0]}x{image.shape[1]}")
    count = layout.tiling.num_tiles
    tiles = image_tiles(image, layout.tile_grid, cfg.tile_size)
    g_init = torch.from_numpy(np.ascontiguousarray(layout.g_init, dtype=np.float32)).reshape(count, -1, 5)
    regions = torch.from_numpy(np.ascontiguousarray(layout.regions_normalized(), dtype=np.float32))
    out = []
    with inference_context(model.device, precision):
        for s in range(0, count, tiles_per_batch):
            part = slice(s, s + tiles_per_batch)
            out.append(model.encode(tiles[part], g_init[part], regions[part]).float().cpu())
    return layout, torch.cat(out).numpy()


def decode_tokens(model: GPSTokenizer, tokens: np.ndarray | torch.Tensor, tile_grid: tuple[int, int],
                  image_size: tuple[int, int] | None = None, mode: str | None = None,
                  precision: str = "auto") -> np.ndarray:
    """Tokens ``[T,N,5+C]`` of one image -> raw reconstruction ``[3,H,W]`` (cropped to ``image_size``)."""
    t = torch.as_tensor(np.asarray(tokens, dtype=np.float32) if not isinstance(tokens, torch.Tensor) else tokens)
    with inference_context(model.device, precision):
        recon = model.decode(t.float(), tile_grid, mode)[0].float().cpu().numpy()
    if image_size is not None:
        recon = recon[:, : image_size[0], : image_size[1]]
    return np.ascontiguousarray(recon)


def reconstruct(model: GPSTokenizer, image: np.ndarray, tokens_per_tile: int | None = None,
                layout: Partition | None = None,
                mode: str | None = None, precision: str = "auto") -> Reconstruction:
    """Partition, encode each tile, decode (``mode``: None = the reference's rule for this model)."""
    layout, tokens = encode_image(model, image, layout, tokens_per_tile, precision)
    mode = mode or model.config.default_decode_mode
    recon = decode_tokens(model, tokens, layout.tile_grid, layout.image_size, mode, precision)
    return Reconstruction(layout, tokens, recon, mode)


def image_tiles(image: np.ndarray, tile_grid: tuple[int, int], tile: int) -> torch.Tensor:
    """HxWx3 uint8 image, edge-padded to whole tiles as the partition pads it -> ``[T,3,tile,tile]`` in [-1,1]."""
    tiling = Tiling(image.shape[:2], tile)
    tiling.check_grid(tile_grid)
    rows, cols = tile_grid
    x = image_to_tensor(image)
    pad_h, pad_w = (c - s for c, s in zip(tiling.canvas_size, tiling.image_size))
    if pad_h or pad_w:
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    x = x[0].reshape(3, rows, tile, cols, tile).permute(1, 3, 0, 2, 4)
    return x.reshape(rows * cols, 3, tile, tile)


