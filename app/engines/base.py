"""The engine protocol: a fast path for drags and a full path for releases, both cancellable.

- ``fast``: must feel immediate (< 50 ms at 256x256 with fitting): keep features frozen, move the
  edited tokens, render (and decode, for a tokenizer).
- ``full``: the real thing (fit / encode + decode), with progress and cooperative cancel; may call
  ``partial`` with intermediate results so the canvas refines while it runs.
Both return a ``Result`` for the request's revision. Requests are snapshots taken on the GUI thread.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from gpstoken_studio.model.plane import Plane
from gpstoken_studio.model.result import Result

Cancel = Callable[[], bool]
Progress = Callable[[float, str], None]  # (fraction done, message)
Partial = Callable[[Result], None]


@dataclass(frozen=True)
class EngineRequest:
    """Everything an engine needs, copied from the document at ``revision``."""

    revision: int
    image: np.ndarray  # uint8 [H, W, 3]
    plane: Plane
    rows: np.ndarray  # int64 [K] live layout rows
    g_init: np.ndarray  # float32 [K, 5] their geometry, merged over the plane
    regions: np.ndarray  # int32 [K, 4] plane pixels
    tiles: np.ndarray  # int32 [K] row-major tile of each row
    locks: np.ndarray  # uint8 [K]
    previous: Result | None  # the last full result, for warm starts and frozen features
    mask: np.ndarray | None  # bool [H, W] painted region (masked metrics), None if nothing painted
    steps: int = 60


class Engine(Protocol):
    """Turns a layout into refined tokens and a reconstruction."""

    name: str
    features: str  # "rgb" or "latent"

    def fast(self, request: EngineRequest, cancel: Cancel) -> Result: ...

    def full(self, request: EngineRequest, progress: Progress, cancel: Cancel, partial: Partial) -> Result: ...


def to_display(recon_chw: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Engine output [3, H', W'] in [-1, 1] -> float32 [H, W, 3] in [0, 1] over the image area."""
    h, w = image_size
    x = np.asarray(recon_chw, dtype=np.float32)[:, :h, :w]
    return np.ascontiguousarray(np.clip((x.transpose(1, 2, 0) + 1) / 2, 0, 1))


def to_uint8(recon01: np.ndarray) -> np.ndarray:
    """A reconstruction in [0, 1] as the uint8 image that metrics and exports see."""
    return np.clip(np.rint(recon01 * 255), 0, 255).astype(np.uint8)


def metrics_of(image: np.ndarray, recon01: np.ndarray, mask: np.ndarray | None) -> dict:
    """PSNR, SSIM, MS-SSIM, HaarPSI over the image (and ``_mask`` variants inside the painted region)."""
    from gpstoken.metrics import evaluate

    return evaluate(image, to_uint8(recon01), mask if mask is not None and mask.any() else None)


def warm_tokens(request: EngineRequest, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Start tokens ``[K, 5+channels]`` for the request's rows from its previous result.

    Unchanged rows keep their refined tokens; a moved row keeps its refined shape, shifted by the
    move; a reshaped row restarts from its new g_init; features stay frozen. Rows the previous
    result lacks (new Gaussians) get zero features. Also returns bool ``[K]``: rows without features.
    """
    k = len(request.rows)
    out = np.zeros((k, 5 + channels), np.float32)
    out[:, :5] = request.g_init
    fresh = np.ones(k, bool)
    prev = request.previous
    if prev is None or prev.tokens.shape[1] != 5 + channels:
        return out, fresh
    length = int(max(request.rows.max(initial=0), prev.rows.max(initial=0))) + 1
    tokens = prev.tokens_by_row(length)[request.rows]
    g_prev = np.full((length, 5), np.nan, np.float32)
    g_prev[prev.rows] = prev.g_init
    g_prev = g_prev[request.rows]
    known = ~np.isnan(tokens[:, 0])
    same = known & (g_prev == request.g_init).all(axis=1)
    moved = known & ~same & (g_prev[:, :3] == request.g_init[:, :3]).all(axis=1)
    out[same] = tokens[same]
    out[moved] = tokens[moved]
    delta = request.g_init[moved, 3:5] - g_prev[moved, 3:5]
    out[moved, 3:5] = np.where(delta != 0, np.clip(tokens[moved, 3:5] + delta, -1, 1), tokens[moved, 3:5])
    reshaped = known & ~same & ~moved
    out[reshaped, 5:] = tokens[reshaped, 5:]
    fresh = ~known
    return out, fresh
