"""Turn a GroupNorm decoder into the statistics-free ``decoder_norm: affine`` one, as a start for
fine-tuning: each norm becomes the per-channel scale and shift it applies to an average image.

``python -m gpstoken.train.affine_norm MODEL IMAGES OUT``: IMAGES is a folder or a list file
(256-px crops are what the statistics are taken over); OUT is the converted model.
"""
from __future__ import annotations

import argparse
import os

import numpy as np
import torch

from ..errors import GPSTokenError
from ..models.layers import EPS, TiledGroupNorm
from ..models.pipeline import reconstruct
from ..models.tokenizer import GPSTokenizer


def norm_statistics(model: GPSTokenizer, images: list[np.ndarray],
                    tokens_per_tile: int | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each decoder GroupNorm's per-group mean and std, averaged over the reconstructions of ``images``."""
    sums: dict[str, torch.Tensor] = {}  # per norm: rows of summed means, summed stds, counts

    def record(name: str):
        def hook(module: TiledGroupNorm, args: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            x = args[0].float()
            groups = x.reshape(x.shape[0], module.num_groups, -1)
            var, mean = torch.var_mean(groups, dim=2, unbiased=False)
            stats = torch.stack([mean.sum(0), var.sqrt().sum(0), torch.full_like(mean[0], x.shape[0])])
            sums[name] = sums.get(name, 0) + stats
        return hook

    norms = {name: m for name, m in model.decoder.named_modules() if isinstance(m, TiledGroupNorm)}
    if not norms:
        raise GPSTokenError("the model's decoder has no GroupNorm to convert (already affine?)")
    handles = [m.register_forward_hook(record(name)) for name, m in norms.items()]
    try:
        for image in images:
            reconstruct(model, image, tokens_per_tile, precision="fp32")
    finally:
        for handle in handles:
            handle.remove()
    return {name: (s[0] / s[2], s[1] / s[2]) for name, s in sums.items()}


def affine_decoder_model(model: GPSTokenizer, images: list[np.ndarray],
                         tokens_per_tile: int | None = None) -> GPSTokenizer:
    """A copy of ``model`` with ``decoder_norm: affine`` whose every norm applies the GroupNorm's
    ``(x - mean) / (std + eps) * weight + bias`` with the mean and std averaged over ``images``."""
    if not images:
        raise GPSTokenError("no images to take the decoder's statistics over")
    stats = norm_statistics(model.eval(), images, tokens_per_tile)
    converted = GPSTokenizer(model.config.replace(decoder_norm="affine"))
    converted.load_state_dict(model.state_dict())
    modules = dict(converted.decoder.named_modules())
    with torch.no_grad():
        for name, (mean, std) in stats.items():
            norm = modules[name]
            per_channel = norm.weight.numel() // mean.numel()
            scale = norm.weight / (std + EPS).repeat_interleave(per_channel)
            norm.bias.sub_(mean.repeat_interleave(per_channel) * scale)
            norm.weight.copy_(scale)
    return converted.eval()


def main(argv: list[str] | None = None) -> int:
    from ..models.checkpoint import load_tokenizer, save_tokenizer
    from .data import eval_image, list_images

    parser = argparse.ArgumentParser(description="Convert a tokenizer's GroupNorm decoder to decoder_norm: affine.")
    parser.add_argument("model", help="tokenizer .safetensors with a GroupNorm decoder")
    parser.add_argument("images", help="folder or list file of images to take the statistics over")
    parser.add_argument("out", help="converted .safetensors to write")
    parser.add_argument("--count", type=int, default=64, help="images to use, evenly spread over the list")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be >= 1, got {args.count}")
    try:
        model = load_tokenizer(args.model)
        paths = list_images(args.images).paths
        picked = paths[:: max(1, len(paths) // args.count)][: args.count]
        tile = model.config.tile_size
        images = [eval_image(p, tile, tile) for p in picked]
        save_tokenizer(affine_decoder_model(model, images), os.fspath(args.out))
    except GPSTokenError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"{args.out}: decoder norms folded over {len(images)} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
