"""Held-out evaluation of a tokenizer on single tiles: reconstruct with a chosen initial layout, score."""
from __future__ import annotations

import numpy as np
import torch

from .data import eval_image, initial_layout


def reconstruct_tile(model, image: np.ndarray, g_init: np.ndarray, regions: np.ndarray,
                     precision: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """One tile (uint8 HxWx3, the model's tile size) with its layout -> (reconstruction uint8, tokens [N,D])."""
    from ..models.pipeline import inference_context, to_uint8

    x = torch.from_numpy(image).permute(2, 0, 1)[None].float().div(127.5).sub(1)
    with inference_context(model.device, precision):
        tokens = model.encode(x, torch.from_numpy(np.asarray(g_init, np.float32))[None],
                              torch.from_numpy(np.asarray(regions, np.float32))[None])
        recon = model.decode(tokens.float(), (1, 1), "merged")
    return to_uint8(recon[0].float().cpu().numpy()), tokens[0].float().cpu().numpy()


def evaluate_tiles(model, paths: list[str] | tuple[str, ...], tokens: int, init: str = "adaptive",
                   resize: int = 256, lam: float = 2.5, min_size: int = 8) -> dict[str, float]:
    """Mean PSNR (dB), SSIM and HaarPSI of the model on centre tiles of ``paths`` with ``tokens`` Gaussians
    each, and the PSNR of each image (``per_image``)."""
    from ..metrics import haarpsi, psnr, ssim

    tile = model.config.tile_size
    scores = []
    for path in paths:
        image = eval_image(path, max(resize, tile), tile)
        g, r = initial_layout(image, tokens, init, lam, min_size)
        recon, _ = reconstruct_tile(model, image, g, r)
        scores.append((psnr(image, recon), ssim(image, recon), haarpsi(image, recon)))
    p, s, h = np.mean(scores, axis=0)
    return {"psnr": float(p), "ssim": float(s), "haarpsi": float(h), "images": len(scores),
            "per_image": [round(float(row[0]), 2) for row in scores]}
