"""Test-time refinement: a tokenizer's tokens of one image, optimised through its frozen renderer and decoder.

Conventions (decided here):
- Tokens are ONE set merged over the image's plane of model tiles (``gpstoken.tokens.merge_tiles``),
  rendered on the model's feature grid and decoded in one pass over the tile grid (the reference's
  "merged" decode). The image is edge-padded to whole tiles; the padding has zero loss weight.
- Geometry is optimised in the bounded parameters of :mod:`gpstoken.geometry_params` (unit of a
  centre: the token's start sigma), so every step gives valid Gaussians; features are free.
  Locked rows keep their geometry and/or features bit for bit.
- The loss is the MSE in [-1, 1] space; the score that picks the state to return is the PSNR of
  the clamped reconstruction on the image area. The best state seen is returned, and the start
  counts as seen, so the result is never worse than the start (when nothing improves, the start
  tokens come back unchanged). Cancel, early stopping and the time limit all return the best state.
- Time is the calling thread's CPU time (``time.thread_time``): with one torch thread (the default
  here) every kernel, the numba renderer's included, runs on that thread.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from .config_fields import with_overrides
from .errors import GPSTokenError
from .fit import Cancel, _cancel_check, _psnr
from .geometry_params import GeometryParams
from .tiling import Tiling
from .tokens import GEOMETRY_CHANNELS, SX, SY, check_gaussians

if TYPE_CHECKING:
    from .models import GPSTokenizer

STOPS = ("done", "converged", "time", "cancelled", "locked", "nan")


@dataclass(frozen=True)
class RefineOptions:
    """Knobs of one refinement; every field can also be passed to :func:`refine` as a keyword."""

    steps: int = 100
    lr_geometry: float = 0.1
    lr_features: float = 0.15
    patience: int = 15  # early stop after this many steps without a gain of min_gain_db over the best
    min_gain_db: float = 0.01
    max_seconds: float | None = None  # CPU seconds of the calling thread; None: no limit
    precision: str = "auto"  # gpstoken.models.pipeline.PRECISIONS
    progress_every: int = 5

    def __post_init__(self) -> None:
        if not isinstance(self.steps, (int, np.integer)) or self.steps < 0:
            raise GPSTokenError(f"refine: steps must be a non-negative integer, got {self.steps!r}")
        for name in ("lr_geometry", "lr_features"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GPSTokenError(f"refine: {name} must be a positive finite number, got {value!r}")
        if self.patience < 1 or self.progress_every < 1 or self.min_gain_db < 0:
            raise GPSTokenError("refine: patience and progress_every must be >= 1, min_gain_db >= 0")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise GPSTokenError(f"refine: max_seconds must be > 0, got {self.max_seconds!r}")


@dataclass(frozen=True)
class RefineStatus:
    """What a progress callback sees: the best state so far."""

    step: int
    psnr: float  # dB of the best state so far
    seconds: float  # CPU seconds since the start
    tokens: np.ndarray  # float32 [M, 5+C], the best so far
    recon: np.ndarray  # float32 [3, H, W], its reconstruction (raw, cropped to the image)


@dataclass(frozen=True)
class RefineResult:
    """The best tokens seen, their reconstruction and the history of the run."""

    tokens: np.ndarray  # float32 [M, 5+C], merged over the plane
    recon: np.ndarray | None  # float32 [3, H, W] raw, cropped; None when nothing ran (every token locked)
    psnr_history: np.ndarray  # float64 [K]: dB of the state evaluated at step k (k = 0: the start)
    seconds_history: np.ndarray  # float64 [K]: CPU seconds when that state had been evaluated
    best_step: int
    stopped: str  # one of STOPS
    message: str = ""

    @property
    def psnr_before(self) -> float:
        return float(self.psnr_history[0]) if len(self.psnr_history) else math.nan

    @property
    def psnr(self) -> float:
        return float(self.psnr_history[self.best_step]) if len(self.psnr_history) else math.nan

    @property
    def gain_db(self) -> float:
        return self.psnr - self.psnr_before

    @property
    def steps_done(self) -> int:
        return max(len(self.psnr_history) - 1, 0)


def refine(
    model: GPSTokenizer,
    image: np.ndarray,
    tokens: np.ndarray,
    tile_grid: tuple[int, int],
    *,
    locked_geometry: np.ndarray | None = None,
    locked_features: np.ndarray | None = None,
    progress: Callable[[RefineStatus], None] | None = None,
    cancel: Cancel | None = None,
    options: RefineOptions | None = None,
    **overrides,
) -> RefineResult:
    """Optimise ``tokens [M, 5+C]`` (merged over ``tile_grid`` model tiles) against the uint8 ``image``.

    ``locked_*``: bool ``[M]`` rows whose geometry / features stay exactly as given.
    ``progress(status)`` is called every ``progress_every`` steps and at the end.
    """
    opts = with_overrides(options, RefineOptions, overrides, "refine")
    start = np.ascontiguousarray(tokens, dtype=np.float32)
    problem = _Problem.build(model, image, start, tile_grid, opts)
    lock_g = _mask(locked_geometry, len(start), "locked_geometry")
    lock_f = _mask(locked_features, len(start), "locked_features")
    if (lock_g & lock_f).all():
        return RefineResult(tokens=start.copy(), recon=None, psnr_history=np.zeros(0), seconds_history=np.zeros(0),
                            best_step=0, stopped="locked", message="every token is locked: nothing to refine")
    _check_differentiable(model)
    return problem.run(start, lock_g, lock_f, progress, _cancel_check(cancel))


# ------------------------------------------------------------------------------------------------


@dataclass
class _Problem:
    model: GPSTokenizer
    opts: RefineOptions
    target: torch.Tensor  # [3, Hc, Wc] edge-padded, [-1, 1]
    weight: torch.Tensor  # [1, Hc, Wc]: 1 on the image, 0 in the padding
    image_size: tuple[int, int]
    tile_grid: tuple[int, int]

    @classmethod
    def build(cls, model, image, tokens, tile_grid, opts) -> "_Problem":
        from .models.pipeline import image_tiles
        from .models.tiling import from_tiles

        cfg = model.config
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise GPSTokenError("refine needs a uint8 [H, W, 3] image")
        if tokens.ndim != 2 or tokens.shape[1] != cfg.token_dim:
            raise GPSTokenError(f"refine: tokens must be [M, {cfg.token_dim}] for this model, got {list(tokens.shape)}")
        check_gaussians(tokens, "refine: start tokens")
        rows, cols = (int(v) for v in tile_grid)
        size = cfg.tile_size
        h, w = image.shape[:2]
        tiling = Tiling((h, w), size)
        if tiling.tile_grid != (rows, cols):
            raise GPSTokenError(f"refine: a {w}x{h} image does not fill a {rows}x{cols} grid of {size}-px tiles")
        device = model.device
        target = from_tiles(image_tiles(image, (rows, cols), size), (rows, cols))[0].to(device)
        weight = torch.zeros(1, *tiling.canvas_size, device=device)
        weight[:, :h, :w] = 1
        return cls(model, opts, target, weight, (h, w), (rows, cols))

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Merged tokens ``[M, D]`` -> raw image ``[3, Hc, Wc]`` (render on the model grid, merged decode)."""
        from .models.pipeline import autocast_context
        from .render import render

        cfg = self.model.config
        rows, cols = self.tile_grid
        grid = cfg.gps_rs[0]
        features = render(tokens[None], size=(grid * rows, grid * cols), support=cfg.gps_dmax)
        with autocast_context(self.model.device, self.opts.precision):
            return self.model.decode_features(features, (rows, cols))[0].float()

    def scores(self, out: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(loss to minimise, PSNR in dB of the clamped image area)."""
        h, w = self.image_size
        loss = (self.weight * (out - self.target).square()).sum() / (3 * self.weight.sum())
        with torch.no_grad():
            mse = (out[:, :h, :w].clamp(-1, 1) - self.target[:, :h, :w]).square().mean()
        return loss, _psnr(float(mse))

    def run(self, start: np.ndarray, lock_g: np.ndarray, lock_f: np.ndarray, progress, cancelled) -> RefineResult:
        opts, device = self.opts, self.model.device
        t0 = time.thread_time()
        fixed = torch.from_numpy(start).to(device)
        geometry0, features0 = fixed[:, :GEOMETRY_CHANNELS], fixed[:, GEOMETRY_CHANNELS:]
        lock_g_t = torch.from_numpy(lock_g[:, None]).to(device)
        lock_f_t = torch.from_numpy(lock_f[:, None]).to(device)
        params = GeometryParams(geometry0[:, [SX, SY]].clamp_min(1e-4), lock_g_t)
        geo = params.encode(geometry0).requires_grad_(not lock_g.all())
        feat = features0.clone().requires_grad_(not lock_f.all())
        trained = [(p, lr) for p, lr in ((geo, opts.lr_geometry), (feat, opts.lr_features)) if p.requires_grad]
        optimizer = torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in trained])

        def current() -> torch.Tensor:
            return torch.cat([params.decode(geo, geometry0), torch.where(lock_f_t, features0, feat)], dim=1)

        psnrs: list[float] = []
        seconds: list[float] = []
        best = {"step": 0, "tokens": fixed, "out": None}
        stopped, message, last_gain = "done", "", 0
        for step in range(opts.steps + 1):
            final = step == opts.steps
            if step and cancelled():
                stopped, message = "cancelled", f"cancelled after {step} steps"
                break
            optimizer.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(not final):
                tokens_now = current()
                out = self.decode(tokens_now)
                loss, psnr = self.scores(out)
            if not math.isfinite(psnr):
                stopped, message = "nan", f"stopped at step {step}: the reconstruction is not finite"
                break
            psnrs.append(psnr)
            seconds.append(time.thread_time() - t0)
            if step == 0 or psnr > psnrs[best["step"]]:
                if step and psnr > psnrs[best["step"]] + opts.min_gain_db:
                    last_gain = step
                best = {"step": step, "tokens": fixed if step == 0 else tokens_now.detach(), "out": out.detach()}
            if progress is not None and (final or step % opts.progress_every == 0):
                progress(self._status(step, psnrs, seconds, best))
            if final:
                break
            if step - last_gain >= opts.patience:
                stopped, message = "converged", f"no gain of {opts.min_gain_db} dB in {opts.patience} steps"
                break
            if opts.max_seconds is not None and seconds[-1] >= opts.max_seconds:
                stopped, message = "time", f"time limit of {opts.max_seconds:g} CPU seconds reached"
                break
            try:
                loss.backward(inputs=[p for p, _ in trained])
            except RuntimeError as exc:
                raise GPSTokenError(
                    f"refine: this model's decoder cannot take gradients ({_first_line(exc)})") from None
            if not all(bool(torch.isfinite(p.grad).all()) for p, _ in trained):
                stopped, message = "nan", f"stopped at step {step}: NaN/inf gradients"
                break
            optimizer.step()

        h, w = self.image_size
        result_tokens = start.copy() if best["step"] == 0 else best["tokens"].cpu().numpy().astype(np.float32)
        return RefineResult(
            tokens=result_tokens,
            recon=None if best["out"] is None else best["out"][:, :h, :w].cpu().numpy(),
            psnr_history=np.asarray(psnrs, dtype=np.float64),
            seconds_history=np.asarray(seconds, dtype=np.float64),
            best_step=best["step"],
            stopped=stopped,
            message=message,
        )

    def _status(self, step: int, psnrs: list[float], seconds: list[float], best: dict) -> RefineStatus:
        h, w = self.image_size
        return RefineStatus(step=step, psnr=psnrs[best["step"]], seconds=seconds[-1],
                            tokens=best["tokens"].cpu().numpy().astype(np.float32),
                            recon=best["out"][:, :h, :w].cpu().numpy())


def _check_differentiable(model: GPSTokenizer) -> None:
    """A one-line error for decoders that cannot pass gradients (low-precision or inference-mode weights)."""
    for name, p in model.decoder.named_parameters():
        if p.is_inference():
            raise GPSTokenError("refine: this model's decoder cannot take gradients (its weights were made in "
                                "inference mode); load it again with gpstoken.load_tokenizer")
        if p.dtype not in (torch.float32, torch.float64):
            raise GPSTokenError(f"refine: this model's decoder cannot take gradients in {str(p.dtype)[6:]} "
                                f"(decoder.{name}); load the model in float32 (bf16 is used through autocast)")


def _mask(mask: np.ndarray | None, m: int, name: str) -> np.ndarray:
    if mask is None:
        return np.zeros(m, dtype=bool)
    a = np.asarray(mask)
    if a.dtype != bool or a.shape != (m,):
        raise GPSTokenError(f"refine: {name} must be a bool mask of shape [{m}], got {a.dtype} {list(a.shape)}")
    return a.copy()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


