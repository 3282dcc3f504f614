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
from gpstoken.tokens import merge_tiles, normalize_regions, reframe, split_tiles
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
        from gpstoken.models.checkpoint import needs_config

        if needs_config(checkpoint) and config is None:  # reads the header: a file that is no model ends here
            raise GPSTokenError(f"{os.path.basename(checkpoint)} is an official checkpoint: pass its YAML (--config)")
        self.checkpoint, self.config, self.requested_precision = checkpoint, config, precision
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        """Loaded on first use (on the worker thread), on the best device present (CUDA, MPS, else CPU)."""
        with self._lock:
            if self._model is None:
                from gpstoken.models import load_tokenizer
                from gpstoken.settings import default_device

                self._model = load_tokenizer(self.checkpoint, self.config, device=default_device())
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

    def refine(self, request: EngineRequest, progress: Progress, cancel: Cancel, partial: Partial) -> Result:
        """Test-time refinement (``gpstoken.refine``) of the previous full result's tokens for up to
        ``request.steps`` steps, locks kept exactly; each improvement so far goes to ``partial``."""
        from gpstoken.refine import refine

        t0 = time.perf_counter()
        start = self._refine_start(request)
        small = self._small_plane(request)
        tile = (self.model.config.tile_size,) * 2
        to_model = (lambda t: reframe(t, small, tile)) if small else (lambda t: t)
        to_plane = (lambda t: reframe(t, tile, small)) if small else (lambda t: t)
        lock_g = (request.locks & LOCK_GEOMETRY) != 0
        lock_f = (request.locks & LOCK_FEATURES) != 0

        def show(status) -> None:
            progress(status.step / max(request.steps, 1), f"refine step {status.step}: {status.psnr:.2f} dB")
            tokens = self._kept(to_plane(status.tokens), start, lock_g)
            partial(dataclasses.replace(self._result(request, "full", tokens, status.recon, 0.0), partial=True))

        out = refine(self.model, request.image, to_model(start), request.plane.tile_grid, locked_geometry=lock_g,
                     locked_features=lock_f, steps=max(int(request.steps), 0), precision=self.precision,
                     progress=show, cancel=cancel)
        if out.recon is None:
            raise GPSTokenError(out.message)
        result = self._result(request, "full", self._kept(to_plane(out.tokens), start, lock_g), out.recon, 0.0)
        metrics = metrics_of(request.image, result.reconstruction, request.mask)
        return dataclasses.replace(result, metrics=metrics, seconds=time.perf_counter() - t0)

    # --------------------------------------------------------------------------------------------

    def _refine_start(self, request: EngineRequest) -> np.ndarray:
        """The previous full result's tokens of the request's rows (refinement starts from them)."""
        prev = request.previous
        if prev is None or prev.features != self.features or prev.tokens.shape[1] != 5 + self.model.config.gps_c:
            raise GPSTokenError("refine needs this model's reconstruction of the layout first")
        length = int(max(request.rows.max(initial=0), prev.rows.max(initial=0))) + 1
        tokens = prev.tokens_by_row(length)[request.rows]
        if np.isnan(tokens[:, 0]).any():
            raise GPSTokenError("refine needs this model's reconstruction of the layout first")
        return tokens

    @staticmethod
    def _kept(tokens: np.ndarray, start: np.ndarray, lock_g: np.ndarray) -> np.ndarray:
        """Locked geometry exactly as it started (a reframe there and back may round)."""
        out = np.array(tokens, np.float32)
        out[lock_g, :5] = start[lock_g, :5]
        return out

    def _small_plane(self, request: EngineRequest) -> tuple[int, int] | None:
        """(H, W) of a plane smaller than the model's tile (the model sees it edge-padded to one tile, as the
        command line pads it), None for a plane of whole model tiles; other tilings are a one-line error."""
        size = self.model.config.tile_size
        plane = request.plane
        if plane.tile == 0 and plane.tile_hw[0] <= size and plane.tile_hw[1] <= size:
            return plane.tile_hw
        if plane.tile_hw != (size, size):
            raise GPSTokenError(f"this model needs {size}x{size} tiles; the image uses "
                                f"{plane.tile_hw[1]}x{plane.tile_hw[0]} (use the fit engine)")
        return None

    def _encode(self, request: EngineRequest, cancel: Cancel) -> np.ndarray:
        """Encode tile by tile (any number of tokens per tile); tokens come back merged, in row order."""
        import torch

        from gpstoken.models.pipeline import image_tiles, inference_context

        small = self._small_plane(request)
        model, plane = self.model, request.plane
        size = model.config.tile_size
        grid = plane.tile_grid
        tiles = image_tiles(request.image, grid, size)
        th, tw = (size, size) if small else plane.tile_hw
        offsets = plane.tiling.box_offsets()
        out = np.zeros((len(request.rows), 5 + model.config.gps_c), np.float32)
        with inference_context(model.device, self.precision):
            for t in range(plane.num_tiles):
                if cancel():
                    break
                k = np.flatnonzero(request.tiles == t)
                if not k.size:
                    continue
                local_boxes = request.regions[k] - offsets[t]
                g_local = tile_local(request.g_init[k], t, grid)
                if small:
                    g_local = reframe(g_local, small, (size, size))
                g = torch.from_numpy(g_local.astype(np.float32))[None]
                r = torch.from_numpy(normalize_regions(np.clip(local_boxes, 0, [tw - 1, th - 1, tw - 1, th - 1]),
                                                       (th, tw)))[None]
                local = model.encode(tiles[t:t + 1], g, r).float().cpu().numpy()[0]
                if small:
                    local = reframe(local, (size, size), small)
                out[k] = merged_plane(local, t, grid)
        return out

    def _decode(self, request: EngineRequest, tokens: np.ndarray) -> np.ndarray:
        """Render the merged tokens on the model's feature grid and decode it (the reference's merged path)."""
        import torch

        from gpstoken.models.pipeline import inference_context
        from gpstoken.render import render

        small = self._small_plane(request)
        model = self.model
        rows, cols = request.plane.tile_grid
        rs = model.config.gps_rs
        if small:
            tokens = reframe(tokens, small, (model.config.tile_size,) * 2)
        on_device = torch.from_numpy(np.ascontiguousarray(tokens, np.float32)).to(model.device)  # triton on CUDA
        features = render(on_device, size=(rs[0] * rows, rs[1] * cols), support=model.config.gps_dmax)
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
