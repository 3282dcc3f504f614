"""The fitting engine: per-image optimisation of RGB tokens (``gpstoken.fit``); needs no weights."""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from gpstoken_studio.engines.base import (Cancel, EngineRequest, Partial, Progress, metrics_of, to_display,
                                          warm_tokens)
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.model.result import Result

COLOURS = 3
CHUNK_STEPS = 10  # the full path fits in chunks and shows each chunk's reconstruction
FAST_COLOUR_ITERS = 2  # colour initialisation of a brand-new layout on the fast path


class FitEngine:
    """Fast path: move edited tokens, keep colours, render. Full path: warm-started fit, chunked."""

    name = "fit"
    features = "rgb"

    def __init__(self, support: float = 3.0) -> None:
        self.support = support

    def fast(self, request: EngineRequest, cancel: Cancel) -> Result:
        t0 = time.perf_counter()
        tokens, fresh = warm_tokens(request, COLOURS)
        if fresh.all():  # a new layout (re-partition): colours from a short least-squares init
            fitted = self._fit(request, None, steps=0, cancel=cancel, colour_init_iters=FAST_COLOUR_ITERS)
            tokens = fitted.tokens
        elif fresh.any():
            tokens = self._fill_fresh(request, tokens, fresh)
        recon = self._render(tokens, request.plane.size)
        return self._result(request, "fast", tokens, recon, {}, time.perf_counter() - t0)

    def full(self, request: EngineRequest, progress: Progress, cancel: Cancel, partial: Partial) -> Result:
        t0 = time.perf_counter()
        tokens, fresh = warm_tokens(request, COLOURS)
        start = None if fresh.all() else self._fill_fresh(request, tokens, fresh)
        initial = start
        steps = max(int(request.steps), 0)
        done, fitted = 0, None
        while True:
            chunk = min(CHUNK_STEPS, steps - done)
            fitted = self._fit(request, start, steps=chunk, cancel=cancel, warm=fitted)
            done += fitted.steps_done
            start = fitted.tokens
            progress(done / steps if steps else 1.0, f"fit {done}/{steps} steps, {fitted.psnr:.2f} dB")
            if done >= steps or fitted.stopped != "done" or cancel():
                break
            partial(_with(self._result(request, "full", start, fitted.recon, {}, time.perf_counter() - t0, fitted),
                          partial=True))
        tokens = self._restore_locked_features(request, fitted.tokens, initial)
        recon = self._render(tokens, request.plane.size) if tokens is not fitted.tokens else fitted.recon
        result = self._result(request, "full", tokens, recon, {}, 0.0, fitted)
        metrics = metrics_of(request.image, result.reconstruction, request.mask)
        return _with(result, metrics=metrics, seconds=time.perf_counter() - t0, warm_start=initial is not None)

    # --------------------------------------------------------------------------------------------

    def _fit(self, request: EngineRequest, start: np.ndarray | None, *, steps: int, cancel: Cancel,
             warm=None, **options):
        from gpstoken.fit import fit
        from gpstoken.fit_init import Layout
        from gpstoken.tiling import Tiling

        canvas, weight = _padded(request)
        locked = (request.locks & LOCK_GEOMETRY) != 0
        if warm is not None:
            return fit(canvas, warm_start=dataclasses.replace(warm, tokens=start), locked=locked, weight=weight,
                       steps=steps, cancel=cancel, support=self.support, progress_every=max(steps, 1), **options)
        layout = Layout(
            regions=request.regions.astype(np.int64), g_init=request.g_init[None], tiling=Tiling(request.plane.size, 0),
            tokens=None if start is None else start[None], features="rgb",
        )
        return fit(canvas, init=layout, locked=locked, weight=weight, steps=steps, cancel=cancel,
                   support=self.support, progress_every=max(steps, 1), **options)

    def _render(self, tokens: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        from gpstoken.render import render

        return render(np.ascontiguousarray(tokens, dtype=np.float32), size=size, support=self.support).numpy()

    def _fill_fresh(self, request: EngineRequest, tokens: np.ndarray, fresh: np.ndarray) -> np.ndarray:
        """New Gaussians take the residual colour at their centre, so they show up before any fit."""
        out = tokens.copy()
        out[fresh, 5:] = 0
        residual = _target(request) - self._render(out, request.plane.size)
        h, w = request.plane.size
        g = out[fresh]
        cx = np.clip(np.rint((g[:, 3] + 1) * (w - 1) / 2), 0, w - 1).astype(int)
        cy = np.clip(np.rint((g[:, 4] + 1) * (h - 1) / 2), 0, h - 1).astype(int)
        out[fresh, 5:] = residual[:, cy, cx].T
        return out

    def _restore_locked_features(self, request: EngineRequest, tokens: np.ndarray, start: np.ndarray) -> np.ndarray:
        keep = (request.locks & LOCK_FEATURES) != 0
        if not keep.any() or start is None:
            return tokens
        out = tokens.copy()
        out[keep, 5:] = start[keep, 5:]
        return out

    def _result(self, request: EngineRequest, path: str, tokens: np.ndarray, recon: np.ndarray, metrics: dict,
                seconds: float, state=None) -> Result:
        return Result(
            revision=request.revision, path=path, engine=self.name, rows=request.rows.copy(),
            g_init=request.g_init.copy(), tokens=np.asarray(tokens, np.float32),
            reconstruction=to_display(recon, request.image.shape[:2]), features=self.features,
            metrics=metrics, seconds=seconds, state=state,
        )


def _with(result: Result, **changes) -> Result:
    return dataclasses.replace(result, **changes)


def _padded(request: EngineRequest) -> tuple[np.ndarray, np.ndarray]:
    """The image edge-padded to the plane, and a loss weight that is zero in the padding."""
    h, w = request.image.shape[:2]
    ph, pw = request.plane.size
    canvas = np.pad(request.image, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    weight = np.zeros((ph, pw), np.float32)
    weight[:h, :w] = 1
    return canvas, weight


def _target(request: EngineRequest) -> np.ndarray:
    canvas, _ = _padded(request)
    return canvas.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
