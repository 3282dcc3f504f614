"""Image quality metrics: PSNR, SSIM, MS-SSIM and HaarPSI (a weights-free perceptual metric).

Input convention, shared by every public function:
- uint8 arrays or tensors are channel-last, ``[..., H, W, 3]`` (or grey ``[H, W]``), scaled to [0, 1];
- floating-point arrays or tensors are channel-first, ``[..., 3, H, W]`` (or ``[..., 1, H, W]``,
  or grey ``[H, W]``), with values in [0, data_range]; they are not clamped.
The two images may mix these forms as long as they agree after conversion. Leading batch
dimensions give one value per image: a float for a single image, else a float64 numpy array.
The first argument is the reference. An optional ``mask`` ([H, W], bool or weights in [0, 1])
restricts a metric to a region: PSNR takes the MSE over the masked pixels; the window-based
metrics first copy the reference into the test image outside the mask (so differences there
cannot leak in through windows) and then average their local map over the mask weights.
Everything is computed in float64 on the CPU; nothing is downloaded.
"""
from __future__ import annotations

import functools
import math
import os
from typing import Callable, Union

import numpy as np
import torch
import torch.nn.functional as F

from gpstoken.errors import GPSTokenError

Image = Union[np.ndarray, torch.Tensor]
Score = Union[float, np.ndarray]

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # window 11: skimage's 2 * int(3.5 * sigma + 0.5) + 1 for sigma 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
HAARPSI_C = 30.0
HAARPSI_ALPHA = 4.2
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


# ---------------------------------------------------------------- input handling

def _canonical(image: Image, name: str) -> tuple[torch.Tensor, bool]:
    """Float64 CPU tensor [..., C, H, W] and whether the input was uint8."""
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
    elif isinstance(image, np.ndarray):
        t = torch.from_numpy(np.require(image, requirements=["C", "W"]))  # a read-only array is copied
    else:
        raise GPSTokenError(f"{name} must be a numpy array or torch tensor, got {type(image).__name__}")
    if t.dtype == torch.uint8:
        t = t[..., None] if t.ndim == 2 else t
        if t.ndim < 3 or t.shape[-1] not in (1, 3):
            raise GPSTokenError(f"{name}: uint8 images must be [..., H, W, 3] or [H, W], "
                                f"got shape {tuple(t.shape)}")
        return t.movedim(-1, -3).to(torch.float64) / 255.0, True
    if not t.is_floating_point():
        raise GPSTokenError(f"{name}: unsupported dtype {t.dtype}; "
                            "use uint8 [H, W, 3] or float [..., 3, H, W]")
    t = t[None] if t.ndim == 2 else t
    if t.ndim < 3 or t.shape[-3] not in (1, 3):
        raise GPSTokenError(f"{name}: float images must be channel-first [..., 3, H, W] or [H, W], "
                            f"got shape {tuple(t.shape)}")
    t = t.to(torch.float64)
    if not torch.isfinite(t).all():
        raise GPSTokenError(f"{name} holds NaN or infinite values")
    return t, False


def _mask_weights(mask: Image, hw: tuple[int, int]) -> torch.Tensor:
    """The mask as float64 weights [1, 1, H, W] in [0, 1], at least one of them positive."""
    m = mask.detach().cpu() if isinstance(mask, torch.Tensor) else torch.from_numpy(np.asarray(mask))
    if tuple(m.shape) != hw:
        raise GPSTokenError(f"mask has shape {tuple(m.shape)} but the images are {hw[0]}x{hw[1]}; "
                            "expected [H, W]")
    m = m.to(torch.float64)
    if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise GPSTokenError(f"mask values must lie in [0, 1] (got {m.min().item():g}..{m.max().item():g}; "
                            "divide an 8-bit mask by 255)")
    if m.sum() <= 0:
        raise GPSTokenError("mask is empty: it selects no pixel")
    return m[None, None]


def _prepare(a: Image, b: Image, mask: Image | None, data_range: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, tuple[int, ...]]:
    """Both images as [N, C, H, W] float64, the mask weights (or None) and the batch shape."""
    x, a_u8 = _canonical(a, "reference image")
    y, b_u8 = _canonical(b, "test image")
    if x.shape != y.shape:
        raise GPSTokenError(f"image shapes differ: {tuple(x.shape)} vs {tuple(y.shape)} (as [..., C, H, W])")
    if not data_range > 0:
        raise GPSTokenError(f"data_range must be positive, got {data_range}")
    if (a_u8 or b_u8) and data_range != 1.0:
        raise GPSTokenError("uint8 images are scaled to [0, 1]: leave data_range at 1.0")
    batch = tuple(x.shape[:-3])
    m = None if mask is None else _mask_weights(mask, tuple(x.shape[-2:]))
    return x.reshape(-1, *x.shape[-3:]), y.reshape(-1, *y.shape[-3:]), m, batch


def _outside_from_reference(x: torch.Tensor, y: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """The test image with the reference copied in outside the mask (blended by weight)."""
    return y if m is None else m * y + (1 - m) * x


def _result(values: torch.Tensor, batch: tuple[int, ...]) -> Score:
    values = values.numpy().reshape(batch)
    return float(values) if not batch else values


def _halve(t: torch.Tensor) -> torch.Tensor:
    """2x2 mean and subsampling by 2; an odd last row or column is averaged alone."""
    return F.avg_pool2d(t, 2, 2, ceil_mode=True)


# ---------------------------------------------------------------- PSNR

def psnr(a: Image, b: Image, mask: Image | None = None, data_range: float = 1.0) -> Score:
    """Peak signal-to-noise ratio in dB; inf for identical images (or identical masked pixels)."""
    x, y, m, batch = _prepare(a, b, mask, data_range)
    squared = (x - y) ** 2
    if m is None:
        mse = squared.mean(dim=(1, 2, 3))
    else:
        mse = (squared * m).sum(dim=(1, 2, 3)) / (m.sum() * x.shape[1])
    return _result(10 * torch.log10(data_range ** 2 / mse), batch)


# ---------------------------------------------------------------- SSIM and MS-SSIM

def _filter_along(t: torch.Tensor, taps: list[float], dim: int, before: int, symmetric: bool) -> torch.Tensor:
    """Correlate with 1D ``taps`` along ``dim``, output the same size; the border is extended
    symmetrically (scipy's 'reflect') or with zeros. Shifted adds are several times faster than
    float64 conv2d on the CPU."""
    n, after = t.shape[dim], len(taps) - 1 - before
    if symmetric:
        i = np.mod(np.arange(-before, n + after), 2 * n)
        padded = t.index_select(dim, torch.from_numpy(np.where(i >= n, 2 * n - 1 - i, i)))
    else:
        padded = F.pad(t, (before, after) if dim == -1 else (0, 0, before, after))
    out = padded.narrow(dim, 0, n) * taps[0]
    for k in range(1, len(taps)):
        out.add_(padded.narrow(dim, k, n), alpha=taps[k])
    return out


@functools.lru_cache(maxsize=1)
def _gaussian_taps() -> list[float]:
    taps = np.exp(-0.5 * (np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1) / SSIM_SIGMA) ** 2)
    return (taps / taps.sum()).tolist()


def _gaussian_blur(t: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter per channel with symmetric borders, as skimage's SSIM filters."""
    taps = _gaussian_taps()
    return _filter_along(_filter_along(t, taps, -2, SSIM_RADIUS, True), taps, -1, SSIM_RADIUS, True)


def _ssim_maps(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Local SSIM and contrast-structure maps (population statistics), both [N, C, H, W]."""
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mx, my, mxx, myy, mxy = _gaussian_blur(torch.cat([x, y, x * x, y * y, x * y], dim=1)).chunk(5, dim=1)
    cs = (2 * (mxy - mx * my) + c2) / (mxx - mx * mx + myy - my * my + c2)
    luminance = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return luminance * cs, cs


def _average_per_channel(local: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
    """[N, C] mean of a local map: over the mask weights, else over the pixels at least a window
    radius from the border as skimage does (all pixels when the image is narrower than a window)."""
    if m is not None:
        return (local * m).sum(dim=(2, 3)) / m.sum()
    h, w = local.shape[-2:]
    r = SSIM_RADIUS
    if h > 2 * r and w > 2 * r:
        local = local[..., r:h - r, r:w - r]
    return local.mean(dim=(2, 3))


def ssim(a: Image, b: Image, mask: Image | None = None, data_range: float = 1.0) -> Score:
    """SSIM (Wang et al. 2004; Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03) per channel, averaged.

    Whole-image values equal skimage's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=..., channel_axis=...)``.
    """
    x, y, m, batch = _prepare(a, b, mask, data_range)
    local, _ = _ssim_maps(x, _outside_from_reference(x, y, m), data_range)
    return _result(_average_per_channel(local, m).mean(dim=1), batch)


def ms_ssim_scales(height: int, width: int) -> int:
    """How many MS-SSIM scales fit: up to 5, while the coarsest side stays at least 11 pixels."""
    scales, h, w = 1, height, width
    while scales < len(MS_SSIM_WEIGHTS) and min(math.ceil(h / 2), math.ceil(w / 2)) >= 2 * SSIM_RADIUS + 1:
        h, w, scales = math.ceil(h / 2), math.ceil(w / 2), scales + 1
    return scales


def ms_ssim(a: Image, b: Image, mask: Image | None = None, data_range: float = 1.0) -> Score:
    """Multi-scale SSIM (Wang et al. 2003): contrast-structure at scales 1..M-1, full SSIM at M.

    Scales are 2x2-mean downsamplings; M = 5 with the standard weights for images of at least
    161 px a side, fewer for smaller ones (their weights then renormalised to sum 1, so one scale
    is plain SSIM). Negative per-scale values are clamped to 0 before the weighted product;
    channels are averaged at the end.
    """
    x, y, m, batch = _prepare(a, b, mask, data_range)
    y = _outside_from_reference(x, y, m)
    scales = ms_ssim_scales(*x.shape[-2:])
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=torch.float64)
    if scales < len(MS_SSIM_WEIGHTS):
        weights = weights / weights.sum()
    product = torch.ones(x.shape[:2], dtype=torch.float64)
    for scale in range(scales):
        local, cs = _ssim_maps(x, y, data_range)
        last = scale == scales - 1
        value = _average_per_channel(local if last else cs, m).clamp_min(0)
        product = product * value ** weights[scale]
        if not last:
            x, y = _halve(x), _halve(y)
            m = None if m is None else _halve(m)
    return _result(product.mean(dim=1), batch)


# ---------------------------------------------------------------- HaarPSI

def _haar_coefficients(lum: torch.Tensor, scale: int) -> torch.Tensor:
    """Absolute 2D Haar high-pass responses at ``scale`` (filters 2^scale wide, orthonormal),
    along x and along y: [N, 2, H, W]; zero borders, as in the authors' code."""
    k = 2 ** scale
    low = [2.0 ** (-scale / 2)] * k
    high = [-v for v in low[: k // 2]] + low[k // 2:]
    before = k // 2 - 1
    along_x = _filter_along(_filter_along(lum, high, -1, before, False), low, -2, before, False)
    along_y = _filter_along(_filter_along(lum, low, -1, before, False), high, -2, before, False)
    return torch.cat([along_x, along_y], dim=1).abs()


def _similarity(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return (2 * p * q + HAARPSI_C) / (p * p + q * q + HAARPSI_C)


def haarpsi(a: Image, b: Image, mask: Image | None = None, data_range: float = 1.0) -> Score:
    """HaarPSI (Reisenhofer et al. 2018), the Haar wavelet-based perceptual similarity index, in [0, 1].

    Follows the paper: images scaled to [0, 255], 2x2-mean subsampled, YIQ for colour (grey uses
    luma only); local similarity of Haar scales 1-2 (C = 30) through a logistic (alpha = 4.2),
    weighted by scale-3 magnitudes; the result is the squared logit of the weighted mean, over
    alpha. If both images lack scale-3 structure (zero weights), pixels are weighted equally.
    """
    x, y, m, batch = _prepare(a, b, mask, data_range)
    y = _outside_from_reference(x, y, m)
    x, y = _halve(x * (255.0 / data_range)), _halve(y * (255.0 / data_range))
    m = None if m is None else _halve(m)
    colour = x.shape[1] == 3
    if colour:
        to_yiq = torch.tensor(_RGB_TO_YIQ, dtype=torch.float64)
        x, y = (torch.einsum("kc,nchw->nkhw", to_yiq, t) for t in (x, y))
    cx = [_haar_coefficients(x[:, :1], scale) for scale in (1, 2, 3)]
    cy = [_haar_coefficients(y[:, :1], scale) for scale in (1, 2, 3)]
    local = (_similarity(cx[0], cy[0]) + _similarity(cx[1], cy[1])) / 2
    weights = torch.maximum(cx[2], cy[2])
    if colour:
        # chroma is compared after a 2x2 mean filter and weighted by the mean luma weight
        px, py = (_filter_along(_filter_along(t[:, 1:], [0.5, 0.5], -1, 0, False),
                                [0.5, 0.5], -2, 0, False).abs() for t in (x, y))
        local = torch.cat([local, _similarity(px, py).mean(dim=1, keepdim=True)], dim=1)
        weights = torch.cat([weights, weights.mean(dim=1, keepdim=True)], dim=1)
    region = torch.ones_like(weights) if m is None else m.expand_as(weights)
    weights = weights * region
    structureless = weights.sum(dim=(1, 2, 3)) == 0
    weights = torch.where(structureless.view(-1, 1, 1, 1), region, weights)
    mean = (torch.sigmoid(HAARPSI_ALPHA * local) * weights).sum(dim=(1, 2, 3)) / weights.sum(dim=(1, 2, 3))
    return _result((torch.logit(mean) / HAARPSI_ALPHA) ** 2, batch)


perceptual = haarpsi  # the project's offline perceptual metric, by role


# ---------------------------------------------------------------- summary and optional LPIPS

METRICS: dict[str, Callable[..., Score]] = {
    "psnr": psnr, "ssim": ssim, "ms_ssim": ms_ssim, "haarpsi": haarpsi}


def evaluate(reference: Image, test: Image, mask: Image | None = None) -> dict[str, float]:
    """All metrics of one image pair as plain floats ("psnr" may be inf), plus "<key>_mask"
    values for the masked region when a mask is given; "haarpsi" is the perceptual metric."""
    if _canonical(reference, "reference image")[0].ndim != 3:
        raise GPSTokenError("evaluate takes one image pair, not a batch")
    result = {key: metric(reference, test) for key, metric in METRICS.items()}
    if mask is not None:
        result.update({f"{key}_mask": metric(reference, test, mask) for key, metric in METRICS.items()})
    return result


_LPIPS_BACKBONES = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights", "squeeze": "SqueezeNet1_1_Weights"}


@functools.lru_cache(maxsize=2)
def _lpips_model(net: str) -> torch.nn.Module:
    try:
        import lpips as lpips_package
        import torchvision
    except ImportError:
        raise GPSTokenError("LPIPS needs the optional 'lpips' package and its torchvision backbone "
                            "weights on disk; use haarpsi for an offline perceptual metric") from None
    url = getattr(torchvision.models, _LPIPS_BACKBONES[net]).IMAGENET1K_V1.url
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    if not os.path.exists(cached):
        raise GPSTokenError(f"LPIPS backbone weights are not on disk ({cached}); "
                            "they are never downloaded here")
    return lpips_package.LPIPS(net=net, verbose=False).eval()


def lpips(a: Image, b: Image, net: str = "alex") -> Score:
    """LPIPS (Zhang et al. 2018) distance, lower is closer; only with the ``lpips`` package and
    locally cached weights, else GPSTokenError (nothing is downloaded)."""
    if net not in _LPIPS_BACKBONES:
        raise GPSTokenError(f"unknown LPIPS network {net!r}; choose one of {', '.join(_LPIPS_BACKBONES)}")
    x, y, _, batch = _prepare(a, b, None, 1.0)
    if x.shape[1] != 3:
        raise GPSTokenError("LPIPS needs RGB images")
    with torch.inference_mode():
        distance = _lpips_model(net)(x.float() * 2 - 1, y.float() * 2 - 1)
    return _result(distance.double().reshape(-1), batch)
