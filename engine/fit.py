"""Per-image fitting: optimise Gaussian tokens with RGB colours against one image (no weights needed).

Conventions (decided here):
- Colours live in the reference's image space [-1, 1] (x / 127.5 - 1). The renderer's sum is
  additive and unnormalised, so a colour is whatever makes the sum match; colours are unbounded.
- The image is fitted at its own resolution, on the layout's canvas (:mod:`gpstoken.fit_init`): the
  image itself when it is one tile, else the tiles edge-padded to whole tiles. Tokens are optimised
  as ONE merged set in global canvas coordinates (``merge_tiles``), so Gaussians blend across tile
  borders; ``FitResult.to_token_set`` splits them back into the per-tile file layout. The padding
  has zero loss weight and PSNR is measured on the image area only.
- Parameterisation: sigma = sigmoid(a), rho = tanh(b), mu = tanh(s * c) with s the token's sigma in
  its g_init, so every step is valid and one Adam step moves a centre by about lr * its own size.
- Anisotropy can be softly bounded (``max_aspect > 0``; off by default): Gaussians whose axis ratio exceeds
  it pay ``aspect_weight * mean(log(ratio / max_aspect)^2)``. Unbounded, long thin Gaussians may grow across
  edges and leave streaks; the bound removes them at 0.0-0.1 dB on most photos but costs 1-3 dB where thin
  structures are the content (lightning, wires), so it is opt-in (docs/quality.md).
- Colours start from a few SIRT steps of the linear least-squares problem (geometry fixed), so the
  first step already has a good PSNR.
- The fit draws no random numbers: equal inputs give equal results.
- NaN or inf in the loss or gradients: the last good state is restored with the learning rates
  halved; after ``max_recoveries`` such events the fit stops (``stopped="nan"``). Tokens returned
  are always finite and valid.
- Cancel: ``cancel`` (a callable or a ``threading.Event``) is checked before every step; when set,
  the partial result is returned with ``stopped="cancelled"`` (no exception).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable, Union

import numpy as np
import torch

from ._callable_module import make_module_callable
from .config_fields import with_overrides
from .errors import GPSTokenError
from .fit_init import InitSpec, Layout, make_layout
from .fit_options import FREEZE_MODES, FitOptions  # noqa: F401 (re-exported)
from .geometry_params import GeometryParams
from .io.images import image_to_tensor, tensor_to_image
from .io.tokenfile import TokenSet
from .settings import default_device
from .tokens import GEOMETRY_CHANNELS, RHO, SX, SY, check_gaussians

COLOUR_CHANNELS = 3
PSNR_CAP = 100.0  # dB for a perfect match, so histories stay finite (and JSON-friendly)

Progress = Callable[[int, float, float], None]
Cancel = Union[Callable[[], bool], threading.Event]


@dataclass(frozen=True)
class FitResult:
    """Fitted tokens of one image, merged over the canvas, with the reconstruction and history.

    To re-fit after editing some tokens (e.g. moving one Gaussian), pass
    ``dataclasses.replace(result, tokens=edited)`` as ``warm_start``.
    """

    tokens: np.ndarray  # float32 [T*N, 5+3], canvas coordinates, colours in [-1, 1] space
    layout: Layout
    recon: np.ndarray  # float32 [3, H, W], unclamped, [-1, 1] space
    recon_uint8: np.ndarray  # uint8 [H, W, 3]
    psnr_history: np.ndarray  # float64 [steps_done + 1]: dB of the clamped render; [0] before step 1
    loss_history: np.ndarray  # float64 [steps_done + 1]: weighted MSE in [-1, 1] space (+ the anisotropy penalty)
    stopped: str = "done"  # "done" | "cancelled" | "nan"
    message: str = ""
    optimizer_state: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def psnr(self) -> float:
        return float(self.psnr_history[-1])

    @property
    def steps_done(self) -> int:
        return len(self.psnr_history) - 1

    @property
    def g_init(self) -> np.ndarray:
        """The layout's g_init merged over the canvas, float32 [T*N, 5]."""
        return self.layout.merge(self.layout.g_init)

    @property
    def regions(self) -> np.ndarray:
        """Canvas pixel boxes (x0, y0, x1, y1), inclusive, int64 [T*N, 4]."""
        return self.layout.regions

    def to_token_set(self) -> TokenSet:
        """The token file (per-tile layout of DESIGN.md) with ``features="rgb"``."""
        return self.layout.token_set(self.layout.split(self.tokens), features="rgb")


def fit(
    image: np.ndarray,
    tokens: int | None = None,
    *,
    init: InitSpec = "adaptive",
    locked: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    warm_start: FitResult | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    options: FitOptions | None = None,
    **overrides,
) -> FitResult:
    """Fit ``tokens`` Gaussians per tile with RGB colours to a uint8 ``[H, W, 3]`` image.

    ``init``: "adaptive" (the entropy partition, with ``bias``), "grid", a token file path, a
    TokenSet or a Layout (a file's rgb ``tokens`` are the start; latent ones give the geometry only).
    ``warm_start``: continue from a previous result (its layout, tokens and Adam moments); it
    overrides ``init``. ``locked``: bool ``[T*N]``, tokens whose geometry stays exactly as given
    (their colours are still fitted unless frozen). ``weight``: per-pixel loss weights ``[H, W]``.
    ``progress(step, loss, psnr)`` is called every ``progress_every`` steps and at the end.
    """
    opts = with_overrides(options, FitOptions, overrides, "fit")
    _check_image(image)
    if warm_start is not None:
        layout = warm_start.layout
        if layout.image_size != image.shape[:2]:
            raise GPSTokenError(f"warm_start is for a {layout.image_size} image, not {image.shape[:2]}")
        if tokens is not None and tokens != layout.tokens_per_tile:
            raise GPSTokenError(f"warm_start has {layout.tokens_per_tile} tokens per tile, not {tokens}")
        start = np.asarray(warm_start.tokens, dtype=np.float32)
        if start.shape != (layout.num_tokens, GEOMETRY_CHANNELS + COLOUR_CHANNELS):
            raise GPSTokenError(f"warm_start.tokens must be [{layout.num_tokens}, 8], got {list(start.shape)}")
        check_gaussians(start, "warm_start.tokens")
    else:
        layout = make_layout(image, init, tokens, tile=opts.tile, lam=opts.lam, min_size=opts.min_size, bias=bias)
        start = None if layout.tokens is None else layout.merge(layout.tokens)
        if start is not None and (layout.features != "rgb" or start.shape[-1] != 5 + COLOUR_CHANNELS):
            start = start[:, :GEOMETRY_CHANNELS]  # geometry only: colours are fitted from scratch
    device = torch.device(opts.device) if opts.device else default_device()
    problem = _Problem.build(image, layout, weight, locked, opts, device)
    return problem.run(start, warm_start.optimizer_state if warm_start else {}, progress, cancel)


# ------------------------------------------------------------------------------------------------


def _splat(tokens: torch.Tensor, size: tuple[int, int], support: float, backend: str) -> torch.Tensor:
    from .render import render

    return render(tokens, size=size, support=support, backend=backend)


@dataclass
class _Problem:
    """Everything fixed during one fit: target, weights, layout, masks and options."""

    layout: Layout
    opts: FitOptions
    device: torch.device
    target: torch.Tensor  # [3, Hc, Wc], [-1, 1], edge-padded
    weight: torch.Tensor  # [Hc, Wc], zero in the padding
    weight_sum: float
    g_init: torch.Tensor  # [M, 5] merged
    geometry_locked: torch.Tensor  # bool [M, 1]
    mu_scale: torch.Tensor  # [M, 2]: g_init's sigmas, the unit of a centre parameter

    @classmethod
    def build(cls, image, layout, weight, locked, opts, device) -> "_Problem":
        h, w = layout.image_size
        hc, wc = layout.canvas_size
        target = image_to_tensor(image if image.flags.writeable else image.copy())
        target = torch.nn.functional.pad(target[None], (0, wc - w, 0, hc - h), mode="replicate")[0]
        wmap = torch.zeros(hc, wc)
        wmap[:h, :w] = torch.from_numpy(_check_weight(weight, (h, w)))
        m = layout.num_tokens
        lock = torch.zeros(m, dtype=torch.bool)
        if locked is not None:
            lk = np.asarray(locked)
            if lk.dtype != bool or lk.shape != (m,):
                raise GPSTokenError(f"locked must be a bool mask of shape [{m}], got {lk.dtype} {list(lk.shape)}")
            lock = torch.from_numpy(lk.copy())
        if opts.freeze == "geometry":
            lock[:] = True
        g_init = torch.from_numpy(layout.merge(layout.g_init))
        return cls(layout, opts, device, target.to(device), wmap.to(device), float(wmap.sum()),
                   g_init.to(device), lock[:, None].to(device), g_init[:, [SX, SY]].clamp_min(1e-4).to(device))

    # --- parameterisation (gpstoken.geometry_params) --------------------------------------------

    @property
    def params(self) -> GeometryParams:
        return GeometryParams(self.mu_scale, self.geometry_locked)

    def encode_geometry(self, g: torch.Tensor) -> torch.Tensor:
        return self.params.encode(g)

    def decode_geometry(self, p: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
        return self.params.decode(p, fixed)

    # --- rendering and loss ---------------------------------------------------------------------

    def render(self, geometry: torch.Tensor, colours: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([geometry, colours], dim=1)[None]
        return _splat(tokens, self.layout.canvas_size, self.opts.support, self.opts.backend)[0]

    def losses(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weighted MSE over the canvas, plain MSE of the clamped image area)."""
        h, w = self.layout.image_size
        loss = (self.weight * (out - self.target).square()).sum() / (COLOUR_CHANNELS * self.weight_sum)
        with torch.no_grad():
            mse = (out[:, :h, :w].clamp(-1, 1) - self.target[:, :h, :w]).square().mean()
        return loss, mse

    def initial_colours(self, geometry: torch.Tensor) -> torch.Tensor:
        """SIRT on ``min ||W^1/2 (A c - y)||``: c += (A^T W r) / (A^T W A 1), from c = 0."""
        m = geometry.shape[0]
        ones = torch.ones(m, COLOUR_CHANNELS, device=self.device)
        norm = self._adjoint(geometry, ones, self.weight * self.render(geometry, ones).detach())
        safe = norm > 1e-12
        colours = torch.zeros(m, COLOUR_CHANNELS, device=self.device)
        residual = self.target
        for _ in range(max(self.opts.colour_init_iters, 1)):
            step = self._adjoint(geometry, colours, self.weight * residual)
            update = colours + torch.where(safe, step / norm.clamp_min(1e-12), 0.0)
            if not torch.isfinite(update).all():  # keep the last finite iterate
                break
            colours = update
            residual = self.target - self.render(geometry, colours).detach()
        return colours

    def _adjoint(self, geometry: torch.Tensor, colours: torch.Tensor, field_map: torch.Tensor) -> torch.Tensor:
        """A^T applied to a [3, H, W] map, per token and channel, via the renderer's backward."""
        c = colours.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            out = self.render(geometry.detach(), c)
            (grad,) = torch.autograd.grad(out, c, grad_outputs=field_map)
        return grad

    # --- optimisation ---------------------------------------------------------------------------

    def run(self, start: np.ndarray | None, state: dict, progress: Progress | None,
            cancel: Cancel | None) -> FitResult:
        """Optimise from ``start`` (merged tokens, or None for g_init) and package the result."""
        opts = self.opts
        fixed, geo_param, colours = self._initial_parameters(start)
        params = {"geometry": (geo_param, opts.lr_geometry), "colours": (colours, opts.lr_features)}
        trained = {k: v for k, v in params.items() if v[0].requires_grad}
        optimizer = torch.optim.Adam([{"params": [p], "lr": lr, "initial_lr": lr} for p, lr in trained.values()])
        reused = _restore_moments(optimizer, {k: p for k, (p, _) in trained.items()}, state)
        warm_up = start is not None and not reused
        cancelled = _cancel_check(cancel)

        losses: list[float] = []
        psnrs: list[float] = []
        good = _snapshot(params, optimizer, 0, None, math.nan, math.nan)
        stopped, message, recoveries, lr_scale = "done", "", 0, 1.0
        while True:
            step = len(psnrs)
            final = step == opts.steps
            if not final and cancelled():
                stopped, message, final = "cancelled", f"cancelled after {step} steps", True
            optimizer.zero_grad(set_to_none=True)
            with torch.set_grad_enabled(not final and bool(trained)):
                geometry = self.decode_geometry(geo_param, fixed)
                out = self.render(geometry, colours)
                loss, mse = self.losses(out)
                if opts.max_aspect and not final:
                    loss = loss + opts.aspect_weight * aspect_excess(geometry, opts.max_aspect)
                loss_value, mse_value = torch.stack([loss.detach(), mse]).tolist()
                ok = math.isfinite(loss_value) and math.isfinite(mse_value)
                if ok and not final and trained:
                    loss.backward()
                    ok = all(bool(torch.isfinite(p.grad).all()) for p, _ in trained.values())
            if not ok:  # back to the last good state, with half the learning rate
                recoveries += 1
                _restore(params, optimizer, good)
                if recoveries > opts.max_recoveries:
                    if good["out"] is None:
                        raise GPSTokenError("fit: the render of the start tokens gives NaN/inf")
                    del losses[good["step"]:], psnrs[good["step"]:]
                    losses.append(good["loss"])
                    psnrs.append(good["psnr"])
                    out, stopped = good["out"], "nan"
                    message = (f"stopped at step {good['step']}: NaN/inf after {opts.max_recoveries} "
                               "learning-rate halvings")
                    break
                del losses[good["step"]:], psnrs[good["step"]:]
                lr_scale *= 0.5
                continue
            losses.append(loss_value)
            psnrs.append(_psnr(mse_value))
            if progress is not None and (final or step % opts.progress_every == 0):
                progress(step, loss_value, psnrs[-1])
            if final:
                break
            good = _snapshot(params, optimizer, step, out.detach(), losses[-1], psnrs[-1])
            ramp = min(1.0, (step + 1) / opts.warmup_steps) if warm_up else 1.0
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * lr_scale * ramp
            optimizer.step()

        geometry = self.decode_geometry(geo_param, fixed).detach()
        tokens = torch.cat([geometry, colours.detach()], dim=1).cpu().numpy().astype(np.float32)
        check_gaussians(tokens, "fitted tokens")
        h, w = self.layout.image_size
        recon = out.detach()[:, :h, :w].float().cpu()
        return FitResult(
            tokens=tokens,
            layout=self.layout,
            recon=recon.numpy(),
            recon_uint8=tensor_to_image(recon),
            psnr_history=np.asarray(psnrs, dtype=np.float64),
            loss_history=np.asarray(losses, dtype=np.float64),
            stopped=stopped,
            message=message,
            optimizer_state={k: dict(optimizer.state[p]) for k, (p, _) in trained.items() if p in optimizer.state},
        )

    def _initial_parameters(self, start: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(geometry that locked tokens keep, geometry parameters, colours) at step 0."""
        if start is None:
            fixed = self.g_init
            widened = fixed.clone()
            widened[:, [SX, SY]] *= self.opts.start_sigma_scale
        else:
            fixed = widened = torch.from_numpy(np.ascontiguousarray(start[:, :GEOMETRY_CHANNELS])).to(self.device)
        geo_param = self.encode_geometry(widened)
        with torch.no_grad():
            if start is not None and start.shape[1] > GEOMETRY_CHANNELS:
                colours = torch.from_numpy(np.ascontiguousarray(start[:, GEOMETRY_CHANNELS:])).to(self.device)
            else:
                colours = self.initial_colours(self.decode_geometry(geo_param, fixed))
        geo_param.requires_grad_(self.opts.freeze != "geometry")
        colours.requires_grad_(self.opts.freeze != "features")
        return fixed, geo_param, colours


def aspect_excess(geometry: torch.Tensor, max_aspect: float) -> torch.Tensor:
    """Mean over tokens of ``log(axis ratio / max_aspect)^2`` where the ratio of a Gaussian's axes exceeds
    ``max_aspect`` (0 elsewhere): a soft bound on anisotropy, from the covariance's eigenvalues."""
    a, c = geometry[:, SX].square(), geometry[:, SY].square()
    b = geometry[:, RHO] * geometry[:, SX] * geometry[:, SY]
    major = (a + c) / 2 + torch.sqrt(((a - c) / 2).square() + b.square() + 1e-20)  # finite gradient at a circle
    log_ratio = 0.5 * (2 * torch.log(major) - torch.log(a * c - b.square()))  # log sqrt(major / minor)
    return torch.relu(log_ratio - math.log(max_aspect)).square().mean()


def _snapshot(params: dict, optimizer: torch.optim.Optimizer, step: int, out: torch.Tensor | None,
              loss: float, psnr: float) -> dict:
    """Copies of the parameters and Adam moments before optimiser step ``step``, with their render."""
    return {
        "step": step,
        "out": out,
        "loss": loss,
        "psnr": psnr,
        "params": {k: p.detach().clone() for k, (p, _) in params.items()},
        "optim": {id(p): {k: v.clone() for k, v in s.items()} for p, s in optimizer.state.items()},
    }


def _restore(params: dict, optimizer: torch.optim.Optimizer, snap: dict) -> None:
    with torch.no_grad():
        for k, (p, _) in params.items():
            p.copy_(snap["params"][k])
    for p in list(optimizer.state):
        saved = snap["optim"].get(id(p))
        if saved is None:
            del optimizer.state[p]
        else:
            optimizer.state[p] = {k: v.clone() for k, v in saved.items()}


def _restore_moments(optimizer: torch.optim.Optimizer, params: dict, state: dict) -> bool:
    """Reuse a previous fit's Adam moments for parameters of the same shape; True if any were reused."""
    reused = False
    for name, p in params.items():
        saved = state.get(name)
        if saved and saved["exp_avg"].shape == p.shape:
            # Adam keeps its step counter on the CPU; the moments live with the parameter
            optimizer.state[p] = {k: v.clone() if k == "step" else v.clone().to(p.device) for k, v in saved.items()}
            reused = True
    return reused


def _cancel_check(cancel: Cancel | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if not callable(cancel):
        raise GPSTokenError("cancel must be a callable or a threading.Event")
    return cancel


def _psnr(mse: float) -> float:
    """PSNR in dB of an MSE in [-1, 1] space (peak-to-peak 2), capped at PSNR_CAP."""
    return PSNR_CAP if mse <= 0 else min(PSNR_CAP, 10.0 * math.log10(4.0 / mse))




def _check_image(image: np.ndarray) -> None:
    a = image
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        desc = f"{a.dtype} {list(a.shape)}" if isinstance(a, np.ndarray) else type(a).__name__
        raise GPSTokenError(f"fit needs a uint8 [H, W, 3] image, got {desc}")
    if min(a.shape[:2]) < 2:
        raise GPSTokenError(f"the image must be at least 2x2 pixels, got {a.shape[1]}x{a.shape[0]}")


def _check_weight(weight: np.ndarray | None, hw: tuple[int, int]) -> np.ndarray:
    if weight is None:
        return np.ones(hw, dtype=np.float32)
    w = np.asarray(weight, dtype=np.float32)
    if w.shape != hw:
        raise GPSTokenError(f"the weight map must be [{hw[0]}, {hw[1]}] like the image, got {list(w.shape)}")
    if not np.isfinite(w).all() or w.min() < 0 or w.sum() <= 0:
        raise GPSTokenError("the weight map must be finite, non-negative and not all zero")
    return w


make_module_callable(__name__)
