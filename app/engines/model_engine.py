"""The tokenizer engine (``gpstoken.models``): fast path render + decode with frozen features,
full path encode (per tile) + decode. Tokens are kept merged over the plane like the fit engine's.
"""
from __future__ import annotations

import dataclasses
import os
import threading
import time

import numpy as np

from gpstoken.errors import GPSTokenError
from gpstoken.tokens import merge_tiles, normalize_regions, split_tiles
from gpstoken_studio.engines.base import (Cancel, EngineRequest, Partial, Progress, metrics_of, to_display,
                                          warm_tokens)
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.model.result import Result


def tile_local(merged: np.ndarray, tile: int, grid: tuple[int, int]) -> np.ndarray:
    """Merged-plane tokens ``[K, D]`` that belong to ``tile`` -> its tile-local tokens (split_tiles)."""
    t = grid[0] * grid[1]
    k = len(merged)
    return split_tiles(np.broadcast_to(merged, (t, k, merged.shape[1])).reshape(1, t * k, -1), grid)[tile]


def merged_plane(local: np.ndarray, tile: int, grid: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`tile_local` (merge_tiles of one tile's tokens)."""
    t = grid[0] * grid[1]
    k = len(local)
    return merge_tiles(np.broadcast_to(local, (t, k, local.shape[1])).copy(), grid)[0].reshape(t, k, -1)[tile]


class ModelEngine:
    """A GPSToken tokenizer checkpoint (ours, official safetensors with their YAML, or a training .pt)."""

    name = "model"
    features = "latent"

    def __init__(self, checkpoint: str | os.PathLike, config: str | os.PathLike | None = None,
                 precision: str = "auto") -> None:
        if not os.path.isfile(checkpoint):
            raise GPSTokenError(f"no such checkpoint: {checkpoint}")
        self.checkpoint, self.config, self.requested_precision = checkpoint, config, precision
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        """Loaded on first use (on the worker thread)."""
        with self._lock:
            if self._model is None:
                from gpstoken.models import load_tokenizer

                self._model = load_tokenizer(self.checkpoint, self.config)
            return self._model

    @property
    def precision(self) -> str:
        """As requested; "auto" is bf16 on GPUs and on CPUs with hardware bf16 (half the latency of fp32 there,
        PSNR within 0.02 dB), else fp32."""
        from gpstoken.settings import cpu_has_native_bf16

        if self.requested_precision != "auto":
            return self.requested_precision
        return "bf16" if self.model.device.type == "cpu" and cpu_has_native_bf16() else "auto"

    def fast(self, request: EngineRequest, cancel: Cancel) -> Result:
        t0 = time.perf_counter()
        tokens, fresh = warm_tokens(request, self.model.config.gps_c)
        if fresh.all():
            tokens = self._encode(request, cancel)
        recon = self._decode(request, tokens)
        return self._result(request, "fast", tokens, recon, time.perf_counter() - t0)

    def full(self, request: EngineRequest, progress: Progress, cancel: Cancel, partial: Partial) -> Result:
        t0 = time.perf_counter()
        previous, _ = warm_tokens(request, self.model.config.gps_c)
        progress(0.1, "encoding")
        tokens = self._encode(request, cancel)
        geometry = (request.locks & LOCK_GEOMETRY) != 0
        features = (request.locks & LOCK_FEATURES) != 0
        tokens[geometry, :5] = previous[geometry, :5]
        if request.previous is not None:
            tokens[features, 5:] = previous[features, 5:]
        progress(0.6, "decoding")
        recon = self._decode(request, tokens)
        result = self._result(request, "full", tokens, recon, 0.0)
        metrics = metrics_of(request.image, result.reconstruction, request.mask)
        return dataclasses.replace(result, metrics=metrics, seconds=time.perf_counter() - t0)

    # --------------------------------------------------------------------------------------------

    def _check_plane(self, request: EngineRequest) -> None:
        size = self.model.config.tile_size
        if request.plane.tile_hw != (size, size):
            raise GPSTokenError(f"this model needs {size}x{size} tiles; the image uses "
                                f"{request.plane.tile_hw[1]}x{request.plane.tile_hw[0]} (use the fit engine)")

    def _encode(self, request: EngineRequest, cancel: Cancel) -> np.ndarray:
        """Encode tile by tile (any number of tokens per tile); tokens come back merged, in row order."""
        import torch

        from gpstoken.models.pipeline import image_tiles, inference_context

        self._check_plane(request)
        model, plane = self.model, request.plane
        grid = plane.tile_grid
        tiles = image_tiles(request.image, grid, model.config.tile_size)
        th, tw = plane.tile_hw
        out = np.zeros((len(request.rows), 5 + model.config.gps_c), np.float32)
        with inference_context(model.device, self.precision):
            for t in range(plane.num_tiles):
                if cancel():
                    break
                k = np.flatnonzero(request.tiles == t)
                if not k.size:
                    continue
                i, j = divmod(t, grid[1])
                local_boxes = request.regions[k] - np.array([j * tw, i * th, j * tw, i * th])
                g = torch.from_numpy(tile_local(request.g_init[k], t, grid).astype(np.float32))[None]
                r = torch.from_numpy(normalize_regions(np.clip(local_boxes, 0, [tw - 1, th - 1, tw - 1, th - 1]),
                                                       (th, tw)))[None]
                local = model.encode(tiles[t:t + 1], g, r).float().cpu().numpy()[0]
                out[k] = merged_plane(local, t, grid)
        return out

    def _decode(self, request: EngineRequest, tokens: np.ndarray) -> np.ndarray:
        """Render the merged tokens on the model's feature grid and decode it (the reference's merged path)."""
        import torch

        from gpstoken.models.pipeline import inference_context
        from gpstoken.render import render

        self._check_plane(request)
        model = self.model
        rows, cols = request.plane.tile_grid
        rs = model.config.gps_rs
        features = render(np.ascontiguousarray(tokens, np.float32), size=(rs[0] * rows, rs[1] * cols),
                          support=model.config.gps_dmax)
        with inference_context(model.device, self.precision):
            out = model.decode_features(torch.as_tensor(features)[None], (rows, cols))
        return out[0].float().cpu().numpy()

    def _result(self, request: EngineRequest, path: str, tokens: np.ndarray, recon: np.ndarray,
                seconds: float) -> Result:
        return Result(
            revision=request.revision, path=path, engine=self.name, rows=request.rows.copy(),
            g_init=request.g_init.copy(), tokens=np.asarray(tokens, np.float32),
            reconstruction=to_display(recon, request.image.shape[:2]), features=self.features, seconds=seconds,
        )
