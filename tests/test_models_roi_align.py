"""RoIAlign (torchvision semantics, sampling_ratio=-1, aligned=True) against a loop over its definition."""
import math

import numpy as np
import pytest
import torch

from gpstoken.models.roi_align import roi_align

P = 8


def _f32(v: float) -> float:
    return float(np.float32(v))


def roi_align_loop(features: torch.Tensor, rois: torch.Tensor, p: int = P) -> np.ndarray:
    """The definition, one sample at a time; sample positions rounded to float32 like torchvision."""
    f = features.double().numpy()
    _, c, h, w = f.shape
    out = np.zeros((len(rois), c, p, p))
    for k, (bi, x1, y1, x2, y2) in enumerate(rois.tolist()):
        sx, sy = _f32(x1 - 0.5), _f32(y1 - 0.5)
        rw, rh = _f32(_f32(x2 - 0.5) - sx), _f32(_f32(y2 - 0.5) - sy)
        bw, bh = _f32(rw / p), _f32(rh / p)
        gw, gh = max(math.ceil(rw / p), 0), max(math.ceil(rh / p), 0)
        count = max(gw * gh, 1)
        img = f[int(bi)]
        for ph in range(p):
            for pw in range(p):
                acc = np.zeros(c)
                for iy in range(gh):
                    y = _f32(_f32(sy + _f32(ph * bh)) + _f32(_f32((iy + 0.5) * bh) / gh))
                    for ix in range(gw):
                        x = _f32(_f32(sx + _f32(pw * bw)) + _f32(_f32((ix + 0.5) * bw) / gw))
                        acc += _bilinear(img, y, x)
                out[k, :, ph, pw] = acc / count
    return out


def _bilinear(img: np.ndarray, y: float, x: float) -> np.ndarray:
    _, h, w = img.shape
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return np.zeros(img.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * img[:, y0, x0] + (1 - ly) * lx * img[:, y0, x1]
            + ly * (1 - lx) * img[:, y1, x0] + ly * lx * img[:, y1, x1])


def random_rois(n: int, b: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x1 = torch.rand(n, generator=g) * (w + 8) - 5
    y1 = torch.rand(n, generator=g) * (h + 8) - 5
    bw = torch.rand(n, generator=g) * (w + 4)
    bh = torch.rand(n, generator=g) * (h + 4)
    idx = torch.randint(0, b, (n,), generator=g).float()
    return torch.stack([idx, x1, y1, x1 + bw, y1 + bh], dim=1)


def test_matches_definition_on_random_boxes_including_outside_and_borders():
    feats = torch.randn(2, 3, 21, 26, generator=torch.Generator().manual_seed(0))
    rois = random_rois(80, 2, 21, 26, seed=1)
    np.testing.assert_allclose(roi_align(feats, rois).numpy(), roi_align_loop(feats, rois), atol=2e-6)


def test_matches_definition_on_border_tiny_empty_and_inverted_boxes():
    feats = torch.randn(1, 4, 16, 20, generator=torch.Generator().manual_seed(2))
    rois = torch.tensor([
        [0, 0, 0, 19, 15],          # the whole map, inclusive ends as the encoder passes them
        [0, -1, -1, 20, 16],        # exactly on the [-1, W] / [-1, H] limits
        [0, 12, 8, 19, 15],         # bottom-right corner
        [0, 3, 4, 3, 9],            # zero width: empty grid -> zeros
        [0, 5, 5, 5.3, 5.2],        # sub-pixel box
        [0, 7, 7, 7.01, 14],        # tiny width, tall
        [0, 9, 9, 4, 3],            # inverted box -> zeros
        [0, -30, -30, -20, -20],    # entirely outside
        [0, 18.7, 14.6, 40, 30],    # mostly outside past the end
    ], dtype=torch.float32)
    got = roi_align(feats, rois).numpy()
    np.testing.assert_allclose(got, roi_align_loop(feats, rois), atol=2e-6)
    assert not got[3].any() and not got[6].any() and not got[7].any()


def test_partition_boxes_of_a_tile_cover_it_with_one_sample_per_small_bin():
    # An 8x8 region with inclusive ends spans 7 pixels after the aligned half-pixel shift:
    # ceil(7/8) = 1 sample per bin, so each bin is a single bilinear sample.
    feats = torch.arange(16 * 16, dtype=torch.float32).reshape(1, 1, 16, 16)
    out = roi_align(feats, torch.tensor([[0, 0, 0, 7, 7]], dtype=torch.float32))
    np.testing.assert_allclose(out.numpy(), roi_align_loop(feats, torch.tensor([[0, 0, 0, 7, 7.0]])), atol=1e-5)


def test_batch_index_selects_the_image():
    feats = torch.stack([torch.zeros(2, 8, 8), torch.ones(2, 8, 8)])
    rois = torch.tensor([[1, 1, 1, 6, 6], [0, 1, 1, 6, 6]], dtype=torch.float32)
    out = roi_align(feats, rois)
    assert torch.all(out[0] == 1) and torch.all(out[1] == 0)


def test_no_rois_and_dtypes():
    feats = torch.randn(1, 3, 10, 10)
    assert roi_align(feats, torch.zeros(0, 5)).shape == (0, 3, P, P)
    rois = torch.tensor([[0, 1, 2, 8, 9]], dtype=torch.float32)
    ref = roi_align(feats, rois)
    half = roi_align(feats.bfloat16(), rois)
    assert half.dtype == torch.bfloat16
    assert torch.allclose(half.float(), ref, atol=0.05)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert roi_align(feats, rois).dtype == torch.float32


def test_gradient_is_the_adjoint_of_the_forward():
    feats = torch.randn(1, 1, 9, 9, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0, 0.3, 1.7, 8.2, 7.9], [0, -0.8, -0.5, 4, 30]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, output_size=3), (feats,), fast_mode=True)


@pytest.mark.parametrize("p", [2, 5])
def test_other_output_sizes(p):
    feats = torch.randn(1, 2, 13, 11, generator=torch.Generator().manual_seed(3))
    rois = random_rois(20, 1, 13, 11, seed=4)
    np.testing.assert_allclose(roi_align(feats, rois, p).numpy(), roi_align_loop(feats, rois, p), atol=2e-6)
