"""Image quality metrics: closed forms, agreement with skimage/piq, masks, small images, input forms."""
import json
import math
import sys

import numpy as np
import pytest
import torch

from gpstoken import metrics
from gpstoken.errors import GPSTokenError

torch.set_num_threads(1)
WINDOW_METRICS = [metrics.ssim, metrics.ms_ssim, metrics.haarpsi]


def pattern(h: int, w: int) -> np.ndarray:
    """A smooth deterministic RGB image, float [3, H, W] in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([0.5 + 0.4 * np.sin(xx / 5) * np.cos(yy / 7),
                     0.5 + 0.3 * np.cos((xx + 2 * yy) / 9),
                     0.5 + 0.45 * np.sin(np.hypot(xx - w / 3, yy - h / 2) / 4)])


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(image + sigma * np.random.default_rng(seed).standard_normal(image.shape), 0, 1)


def test_identical_images_are_perfect():
    a = pattern(64, 48)
    result = metrics.evaluate(a, a.copy())
    assert result["psnr"] == math.inf
    for key in ("ssim", "ms_ssim", "haarpsi"):
        assert result[key] == pytest.approx(1.0, abs=1e-12)


def test_psnr_of_constant_offset_is_closed_form():
    a = pattern(32, 32) * 0.8
    assert metrics.psnr(a, a + 0.05) == pytest.approx(20 * math.log10(1 / 0.05), abs=1e-9)
    assert metrics.psnr(a * 255, a * 255 + 10, data_range=255.0) == pytest.approx(20 * math.log10(25.5),
                                                                                  abs=1e-9)


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = np.full((3, 20, 20), 0.3), np.full((3, 20, 20), 0.6)
    c1 = (0.01 * 1.0) ** 2
    luminance = (2 * 0.3 * 0.6 + c1) / (0.3 ** 2 + 0.6 ** 2 + c1)
    assert metrics.ssim(a, b) == pytest.approx(luminance, abs=1e-12)
    # 20 px allows one scale only, so MS-SSIM is SSIM there
    assert metrics.ms_ssim(a, b) == pytest.approx(luminance, abs=1e-12)


@pytest.mark.parametrize("size", [(64, 80), (11, 11), (33, 17)])
def test_ssim_equals_skimage(size):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a = pattern(*size)
    b = noisy(a, 0.1)
    expected = skimage_metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=0)
    assert metrics.ssim(a, b) == pytest.approx(expected, abs=1e-10)


def test_haarpsi_matches_an_independent_implementation():
    assert metrics.perceptual is metrics.haarpsi
    # piq 0.8.0 haarpsi (an independent implementation of the paper) gives this value for the grey pair
    a = pattern(64, 64)
    ripple = 0.08 * np.sin(2.3 * np.arange(64)[None, :, None] + 1.7 * np.arange(64)[None, None, :])
    b = np.clip(a + ripple, 0, 1)
    assert metrics.haarpsi(a[:1], b[:1]) == pytest.approx(0.9669305192847912, abs=1e-9)


def test_ms_ssim_matches_an_independent_implementation():
    # piq 0.8.0 multi_scale_ssim (5 scales, standard weights) gives this value for the pair
    a = pattern(176, 176)
    ripple = 0.08 * np.sin(2.3 * np.arange(176)[None, :, None] + 1.7 * np.arange(176)[None, None, :])
    b = np.clip(a + ripple, 0, 1)
    assert metrics.ms_ssim(a, b) == pytest.approx(0.986693264178208, abs=1e-9)


def test_ms_ssim_uses_five_scales_from_161_px():
    assert metrics.ms_ssim_scales(256, 256) == 5
    assert metrics.ms_ssim_scales(161, 300) == 5
    assert metrics.ms_ssim_scales(160, 160) == 4
    assert metrics.ms_ssim_scales(16, 16) == 1


def test_more_noise_scores_lower_on_every_metric():
    a = pattern(176, 176)
    scores = [metrics.evaluate(a, noisy(a, sigma)) for sigma in (0.01, 0.03, 0.1, 0.3)]
    for key in ("psnr", "ssim", "ms_ssim", "haarpsi"):
        values = [s[key] for s in scores]
        assert all(hi > lo for hi, lo in zip(values, values[1:])), (key, values)


def test_noise_outside_the_mask_leaves_masked_metrics_perfect():
    a = pattern(96, 96)
    mask = np.zeros((96, 96), bool)
    mask[20:60, 30:80] = True
    b = np.where(mask, a, noisy(a, 0.2))
    result = metrics.evaluate(a, b, mask)
    assert result["psnr_mask"] == math.inf
    for key in ("ssim", "ms_ssim", "haarpsi"):
        assert result[f"{key}_mask"] == pytest.approx(1.0, abs=1e-12)
        assert result[key] < 0.99


def test_masked_psnr_counts_only_masked_pixels():
    a = pattern(40, 40) * 0.8
    mask = np.zeros((40, 40), np.float32)
    mask[:10] = 1  # a quarter of the image
    b = a + 0.1 * mask.astype(np.float64)
    assert metrics.psnr(a, b, mask) == pytest.approx(20.0, abs=1e-9)
    assert metrics.psnr(a, b) == pytest.approx(20.0 + 10 * math.log10(4), abs=1e-9)
    assert metrics.psnr(a, b, np.ones((40, 40))) == pytest.approx(metrics.psnr(a, b), abs=1e-12)


def test_noise_inside_the_mask_lowers_masked_metrics():
    a = pattern(64, 64)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    b = np.where(mask, noisy(a, 0.1), a)
    for metric in WINDOW_METRICS:
        assert metric(a, b, mask) < metric(a, b) < 1.0


@pytest.mark.parametrize("size", [(16, 16), (8, 8), (5, 7), (1, 1)])
def test_small_images_do_not_crash(size):
    a = pattern(*size)
    b = noisy(a, 0.05)
    result = metrics.evaluate(a, b, np.ones(size, bool))
    assert all(math.isfinite(v) for k, v in result.items())
    if size == (16, 16):
        assert result["ms_ssim"] == pytest.approx(result["ssim"], abs=1e-12)


def test_numpy_torch_uint8_and_float_inputs_agree():
    a8 = (pattern(40, 56).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    b8 = (noisy(pattern(40, 56), 0.05).transpose(1, 2, 0) * 255).round().astype(np.uint8)
    mask = np.zeros((40, 56), bool)
    mask[5:30, 10:50] = True
    expected = metrics.evaluate(a8, b8, mask)
    a_float = torch.from_numpy(a8).permute(2, 0, 1).float() / 255
    b_float = torch.from_numpy(b8).permute(2, 0, 1).float() / 255
    for pair in [(torch.from_numpy(a8), torch.from_numpy(b8)), (a_float, b_float), (a8, b_float)]:
        got = metrics.evaluate(*pair, torch.from_numpy(mask))
        assert got == pytest.approx(expected, abs=1e-6)


def test_batches_give_one_value_per_image():
    a = np.stack([pattern(32, 32), pattern(32, 32)[:, ::-1]])
    b = np.stack([noisy(a[0], 0.05), noisy(a[1], 0.2)])
    for metric in [metrics.psnr, *WINDOW_METRICS]:
        values = metric(torch.from_numpy(a), b)
        assert values.shape == (2,)
        assert values == pytest.approx([metric(a[0], b[0]), metric(a[1], b[1])], abs=1e-12)


def test_evaluate_returns_json_floats():
    a = pattern(32, 32)
    result = metrics.evaluate(a, noisy(a, 0.1), np.ones((32, 32)))
    assert sorted(result) == sorted(["psnr", "ssim", "ms_ssim", "haarpsi",
                                     "psnr_mask", "ssim_mask", "ms_ssim_mask", "haarpsi_mask"])
    assert all(type(v) is float for v in result.values())
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize("call, message", [
    (lambda a: metrics.psnr(a, a[:, :-1]), "image shapes differ"),
    (lambda a: metrics.ssim(a, a, np.ones((16, 15))), "mask has shape"),
    (lambda a: metrics.ms_ssim(a, a, np.zeros((16, 16))), "mask is empty"),
    (lambda a: metrics.haarpsi(a, a, np.full((16, 16), 255)), "divide an 8-bit mask by 255"),
    (lambda a: metrics.psnr((a * 255).astype(np.uint8).transpose(1, 2, 0),
                            (a * 255).astype(np.uint8).transpose(1, 2, 0), data_range=255.0), "uint8"),
    (lambda a: metrics.ssim(a.transpose(1, 2, 0), a.transpose(1, 2, 0)), "channel-first"),
    (lambda a: metrics.psnr(a.astype(np.int32), a.astype(np.int32)), "unsupported dtype"),
    (lambda a: metrics.evaluate(a[None], a[None]), "one image pair"),
    (lambda a: metrics.psnr(a, np.full_like(a, np.nan)), "NaN"),
])
def test_bad_input_gives_one_line_error(call, message):
    with pytest.raises(GPSTokenError, match=message) as error:
        call(pattern(16, 16))
    assert "\n" not in str(error.value)


def test_lpips_without_the_package_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "lpips", None)  # makes `import lpips` fail
    a = pattern(16, 16)
    with pytest.raises(GPSTokenError, match="optional 'lpips' package"):
        metrics.lpips(a, a)
