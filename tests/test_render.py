"""The renderer: official formula (golden features), exact box, gradients, dtypes, batching, errors."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.errors import GPSTokenError
from gpstoken.render import render, render_dense, render_tiles
from render_helpers import map_and_grad, one_thread, random_tokens  # noqa: F401 (one_thread: autouse fixture)

GOLDEN = Path(__file__).parent / "golden"
BACKENDS = ["numba", "torch", "dense"]
FAST_BACKENDS = ["auto", "torch"]  # auto: numba on the CPU, triton on CUDA


# --- golden data: the official renderer's feature maps -----------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_reproduces_official_features_of_one_tile(backend):
    data = np.load(GOLDEN / "official_tiny_a__astronaut.npz")
    features = render_tiles(torch.from_numpy(data["tokens"]), (1, 1), backend=backend)
    assert features.shape == (1, 8, 64, 64)
    assert np.abs(features[0].numpy() - data["features"]).max() < 5e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_reproduces_official_features_of_merged_2x2_tiles(backend):
    data = np.load(GOLDEN / "official_tiny_a__rocket512.npz")
    features = render_tiles(torch.from_numpy(data["tokens"]), (2, 2), grid_per_tile=64, backend=backend)
    assert features.shape == (1, 8, 128, 128)
    assert np.abs(features[0].numpy() - data["features"]).max() < 5e-3


# --- gradients equal autograd of the dense formula -----------------------------------------------


def test_torch_backend_gradients_equal_dense_autograd_in_float64(device):
    tokens = random_tokens(2, 40, 5, seed=1)
    upstream = torch.randn(2, 5, 23, 31, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref_out, ref_grad = map_and_grad(tokens, (23, 31), "dense", upstream)
    out, grad = map_and_grad(tokens.to(device), (23, 31), "torch", upstream)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("upstream_layout", [torch.contiguous_format, torch.channels_last])
def test_float32_gradients_equal_dense_float64_autograd(backend, upstream_layout, device):
    tokens = random_tokens(2, 40, 5, seed=3)
    upstream = torch.randn(2, 5, 23, 31, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    ref_out, ref_grad = map_and_grad(tokens, (23, 31), "dense", upstream)
    up32 = upstream.float().contiguous(memory_format=upstream_layout)
    out, grad = map_and_grad(tokens.float().to(device), (23, 31), backend, up32.to(device))
    assert grad.dtype == torch.float32
    assert (out.double() - ref_out).abs().max() < 1e-5 * ref_out.abs().max()
    for p, name in enumerate(["sigma_x", "sigma_y", "rho", "mu_x", "mu_y"]):
        scale = ref_grad[..., p].abs().max()
        assert (grad[..., p].double() - ref_grad[..., p]).abs().max() < 2e-5 * scale, name
    scale = ref_grad[..., 5:].abs().max()
    assert (grad[..., 5:].double() - ref_grad[..., 5:]).abs().max() < 2e-5 * scale


# --- the support box is inclusive ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixel_exactly_at_support_distance_contributes(backend):
    # 9x9 grid: pixel centres at multiples of 0.25; sigma 0.25 and support 3 put the box edge on pixels 1 and 7
    token = torch.tensor([[0.25, 0.25, 0.0, 0.0, 0.0, 2.0]])
    out = render(token, (9, 9), support=3.0, backend=backend)[0]
    assert out[4, 7].item() == pytest.approx(2 * math.exp(-4.5), rel=1e-6)
    assert out[7, 4].item() == pytest.approx(2 * math.exp(-4.5), rel=1e-6)
    assert out[7, 7].item() == pytest.approx(2 * math.exp(-9.0), rel=1e-6)
    assert out[1, 1].item() == pytest.approx(2 * math.exp(-9.0), rel=1e-6)
    assert (out[:, [0, 8]] == 0).all() and (out[[0, 8], :] == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixel_just_beyond_support_distance_does_not(backend):
    below = float(np.nextafter(np.float32(0.25), np.float32(0)))
    token = torch.tensor([[below, 0.25, 0.0, 0.0, 0.0, 2.0]])
    out = render(token, (9, 9), support=3.0, backend=backend)[0]
    assert (out[:, [1, 7]] == 0).all()
    assert (out[1:8, 2:7] > 0).all()
    assert out[7, 4].item() > 0


# --- dtypes, batching, shapes ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_bfloat16_tokens_render_close_to_float32(backend):
    tokens = random_tokens(1, 30, 4, seed=7, dtype=torch.bfloat16).requires_grad_(True)
    out = render(tokens, (20, 24), backend=backend)
    assert out.dtype == torch.bfloat16
    ref = render(tokens.detach().float(), (20, 24), backend="dense")
    assert (out.float() - ref).abs().max() <= 1e-2 * ref.abs().max()
    out.float().sum().backward()
    assert tokens.grad.dtype == torch.bfloat16 and torch.isfinite(tokens.grad.float()).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_render_equals_per_item(backend):
    tokens = random_tokens(3, 25, 4, seed=8, dtype=torch.float32)
    batched = render(tokens, (18, 22), backend=backend)
    assert batched.shape == (3, 4, 18, 22)
    for b in range(3):
        single = render(tokens[b], (18, 22), backend=backend)
        assert single.shape == (4, 18, 22)
        torch.testing.assert_close(batched[b], single, rtol=1e-6, atol=1e-6)


def test_auto_backend_matches_dense_in_float32_and_float64(device):
    for dtype in (torch.float32, torch.float64):
        tokens = random_tokens(1, 20, 3, seed=9, dtype=dtype)
        out = render(tokens.to(device), (16, 16)).cpu()
        assert out.dtype == dtype
        torch.testing.assert_close(out, render_dense(tokens, (16, 16)), rtol=1e-5, atol=1e-5)


def test_numpy_tokens_are_accepted():
    tokens = random_tokens(1, 10, 2, seed=10, dtype=torch.float32)
    torch.testing.assert_close(render(tokens.numpy(), (12, 12)), render(tokens, (12, 12)))


def test_geometry_only_tokens_give_an_empty_channel_axis():
    tokens = random_tokens(2, 5, 0, seed=11, dtype=torch.float32)
    for backend in BACKENDS:
        assert render(tokens, (8, 9), backend=backend).shape == (2, 0, 8, 9)


def test_tokens_off_the_map_render_nothing():
    token = torch.tensor([[0.05, 0.05, 0.3, 1.5, -1.6, 1.0, 1.0]])
    for backend in BACKENDS:
        assert (render(token, (10, 10), backend=backend) == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_nan_colour_spoils_its_box_and_nan_sigma_its_band(backend):
    tokens = torch.tensor([[0.1, 0.1, 0.0, -0.5, -0.5, float("nan")], [0.1, 0.1, 0.0, 0.5, 0.5, 1.0]])
    out = render(tokens, (21, 21), backend=backend)
    assert out[:, 2:9, 2:9].isnan().all() and out.isnan().sum() == 49 and out[0, 15, 15] > 0
    tokens[0, 5], tokens[0, 0] = 1.0, float("nan")  # sigma_x NaN: no column can be rejected
    out = render(tokens, (21, 21), backend=backend)
    assert out[:, 2:9, :].isnan().all() and out.isnan().sum() == 7 * 21


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tokens, size, kwargs",
    [
        (torch.zeros(6), (8, 8), {}),
        (torch.zeros(1, 2, 3, 6), (8, 8), {}),
        (torch.zeros(3, 4), (8, 8), {}),
        (torch.zeros(3, 6, dtype=torch.int64), (8, 8), {}),
        (torch.zeros(3, 6), (1, 8), {}),
        (torch.zeros(3, 6), (8,), {}),
        (torch.zeros(3, 6), "big", {}),
        (torch.zeros(3, 6), (8, 8), {"support": 0.0}),
        (torch.zeros(3, 6), (8, 8), {"support": float("nan")}),
        (torch.zeros(3, 6), (8, 8), {"backend": "cuda-magic"}),
        (torch.zeros(3, 6, dtype=torch.float64), (8, 8), {"backend": "numba"}),
        ([[0.1] * 6], (8, 8), {}),
    ],
)
def test_bad_input_raises_one_line_error(tokens, size, kwargs):
    with pytest.raises(GPSTokenError) as err:
        render(tokens, size, **kwargs)
    assert "\n" not in str(err.value)


def test_render_tiles_rejects_a_tile_grid_that_does_not_fit():
    with pytest.raises(GPSTokenError):
        render_tiles(torch.zeros(3, 4, 6), (2, 2))
    with pytest.raises(GPSTokenError):
        render_tiles(torch.zeros(4, 6), (1, 1))


def test_numba_backward_accepts_an_expanded_upstream_gradient():
    tokens = random_tokens(2, 9, 3, seed=12, dtype=torch.float32)
    grads = []
    for backend in ("numba", "dense"):
        t = tokens.clone().requires_grad_(True)
        render(t, (11, 12), backend=backend).sum().backward()  # the upstream gradient has zero strides
        grads.append(t.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-4)
