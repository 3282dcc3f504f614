"""Tile-corner diagnostics of tokenizers (the model card's tile-corner section).

Usage: python benchmarks/tile_corners.py MODEL [MODEL ...]   (safetensors files or training checkpoints)

Per model, on flat grey input:
- corner-token norms: the feature norm of the token nearest each corner of a 256-px tile, over the
  median token's (1.0 = no position-keyed feature);
- decoder border response: mean |deviation| in levels of the 32-px corner blocks when a constant feature
  map (the median token feature) is decoded (0 for replicate padding);
- flat-plane detail: the largest mean |Laplacian| over 64-px windows at tile corners of a 2x2-tile
  reconstruction, the limit the tile-corner test allows (2 x the tile centres' + 0.5), and the largest
  |error| in levels.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

CORNERS = {"TL": (-1, -1), "TR": (1, -1), "BL": (-1, 1), "BR": (1, 1)}
WINDOW = 64
LEVEL = 128


def corner_token_ratios(model) -> tuple[dict[str, float], np.ndarray]:
    """Feature norm of the token nearest each tile corner over the median norm; and the median feature."""
    from gpstoken.models.pipeline import encode_image

    tile = model.config.tile_size
    layout, tokens = encode_image(model, np.full((tile, tile, 3), LEVEL, np.uint8), precision="fp32")
    g, feats = layout.g_init.reshape(-1, 5), tokens[0, :, 5:]
    norms = np.linalg.norm(feats, axis=1)
    median = float(np.median(norms))
    ratios = {}
    for name, (x, y) in CORNERS.items():
        nearest = int(np.argmin(np.abs(g[:, 3] - x) + np.abs(g[:, 4] - y)))
        ratios[name] = round(float(norms[nearest]) / median, 2)
    return ratios, np.median(feats, axis=0)


def decoder_border_response(model, feature: np.ndarray) -> dict[str, float]:
    """Mean |deviation| (levels) of the decoded constant map in its 32-px corner blocks."""
    cells = model.config.gps_rs[0]
    z = torch.from_numpy(feature.astype(np.float32)).view(1, -1, 1, 1).expand(1, -1, cells, cells).contiguous()
    with torch.no_grad():
        y = model.decode_features(z)[0].float().numpy()
    mid = y.shape[-1] // 2
    dev = np.abs(y - y[:, mid:mid + 1, mid:mid + 1]).mean(0) * 127.5
    return {"TL": round(float(dev[:32, :32].mean()), 1), "BR": round(float(dev[-32:, -32:].mean()), 1)}


def flat_plane_detail(model) -> dict[str, float]:
    """Corner vs centre detail of a flat 2x2-tile reconstruction, as the tile-corner test measures it."""
    from gpstoken.models.pipeline import reconstruct
    from gpstoken.train.flat_plane import detail_map

    tile = model.config.tile_size
    image = np.full((2 * tile, 2 * tile, 3), LEVEL, np.uint8)
    recon = reconstruct(model, image, precision="fp32").image()
    x = torch.from_numpy(recon.astype(np.float32)).permute(2, 0, 1)[None]
    d = torch.nn.functional.pad(detail_map(x), (1, 1, 1, 1), mode="replicate")[0, 0].numpy()
    lo, mid, hi = 0, (tile - WINDOW) // 2, tile - WINDOW
    corners, centres = [], []
    for r in range(2):
        for c in range(2):
            t = d[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile]
            corners += [t[y:y + WINDOW, x:x + WINDOW].mean() for y in (lo, hi) for x in (lo, hi)]
            centres.append(t[mid:mid + WINDOW, mid:mid + WINDOW].mean())
    return {"corner": round(float(max(corners)), 2), "limit": round(2 * float(np.mean(centres)) + 0.5, 2),
            "max_error": int(np.abs(recon.astype(np.int16) - LEVEL).max())}


def main(argv: list[str] | None = None) -> int:
    from gpstoken.models import load_tokenizer
    from gpstoken.settings import set_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    for path in args.models:
        model = load_tokenizer(path).eval()
        ratios, feature = corner_token_ratios(model)
        row = {"model": path, "padding": model.config.decoder_padding, "corner_token_norm": ratios,
               "decoder_border_response": decoder_border_response(model, feature),
               "flat_plane": flat_plane_detail(model)}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
