"""The Triton renderer against the dense reference: forward values, every token gradient, edge cases.

Without a GPU the kernels run in Triton's interpreter on CPU tensors (set up here, before triton is
imported); it is slow, so the sizes are small. With a GPU they are compiled and run on it.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from gpstoken.errors import GPSTokenError  # noqa: E402
from gpstoken.render import _choose, render, render_tiles  # noqa: E402
from gpstoken.render.grid import axis_ranges, grid_axis, support_bounds  # noqa: E402
from gpstoken.render.triton_splat import BLOCK_T, TILE_H, TILE_W, bin_tokens  # noqa: E402
from render_helpers import map_and_grad, one_thread  # noqa: E402,F401 (one_thread: autouse fixture)
from render_helpers import random_tokens as any_tokens  # noqa: E402

# this module's tokens: sigma in [0.03, 0.33], |rho| <= 0.95
random_tokens = functools.partial(any_tokens, sigma_min=0.03, sigma_span=0.3, rho=0.95)

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pytestmark = pytest.mark.device  # selected with the device-capable tests (gpu_check.sh)
GOLDEN = Path(__file__).parent / "golden"
GEOMETRY = ["sigma_x", "sigma_y", "rho", "mu_x", "mu_y"]


def assert_matches_dense(tokens32: torch.Tensor, tokens64: torch.Tensor, size, upstream: torch.Tensor, rel: float):
    """Triton on float32/half tokens vs dense float64 autograd: map and each gradient within ``rel`` of its scale."""
    ref_out, ref_grad = map_and_grad(tokens64, size, "dense", upstream.double())
    out, grad = map_and_grad(tokens32, size, "triton", upstream.to(tokens32.dtype), DEVICE)
    assert out.dtype == grad.dtype == tokens32.dtype
    assert (out.double() - ref_out).abs().max() <= rel * ref_out.abs().max()
    for p, name in enumerate(GEOMETRY):
        scale = ref_grad[..., p].abs().max()
        assert (grad[..., p].double() - ref_grad[..., p]).abs().max() <= rel * scale, name
    scale = ref_grad[..., 5:].abs().max()
    assert (grad[..., 5:].double() - ref_grad[..., 5:]).abs().max() <= rel * scale, "features"


# --- forward and gradients vs the dense reference ---------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 8, 20])
def test_float32_map_and_every_gradient_equal_dense_float64(channels):
    tokens = random_tokens(2, 28, channels, seed=channels)
    size = (23, 37)  # 2 x 3 tiles, partial tiles at the bottom and right
    bins = bin_tokens(tokens.float().reshape(-1, 5 + channels), 2, *size, 3.0)
    per_tile = bins.tile_start.diff()
    assert per_tile.max() > BLOCK_T  # some tile takes several chunks of pairs
    upstream = torch.randn(2, channels, *size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert_matches_dense(tokens.float(), tokens, size, upstream, rel=2e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_tokens_give_half_maps_and_gradients_close_to_dense(dtype):
    tokens = random_tokens(1, 24, 16, seed=5).to(dtype)
    upstream = torch.randn(1, 16, 20, 24, generator=torch.Generator().manual_seed(2))
    assert_matches_dense(tokens, tokens.double(), (20, 24), upstream.to(dtype).double(), rel=1e-2)


def test_reproduces_official_features_of_one_tile():
    data = np.load(GOLDEN / "official_tiny_a__astronaut.npz")
    features = render_tiles(torch.from_numpy(data["tokens"]).to(DEVICE), (1, 1), backend="triton")
    assert features.shape == (1, 8, 64, 64)
    assert np.abs(features[0].cpu().numpy() - data["features"]).max() < 5e-3


# --- the support box, tile boundaries, empty tiles ------------------------------------------------------------


def test_boxes_ending_at_a_tile_boundary_stay_in_their_tiles():
    # 33 columns: centres at c/16 - 1; sigma 1/16 and support 3 put the box edges exactly on pixel centres
    xs = torch.arange(33, dtype=torch.float64) / 16 - 1
    tokens = torch.tensor([[1 / 16, 1 / 16, 0.0, xs[12], xs[4], 2.0],  # columns 9..15: the last one of tile 0
                           [1 / 16, 1 / 16, 0.0, xs[19], xs[4], 3.0]])  # columns 16..22: the first of tile 1
    bins = bin_tokens(tokens.float(), 1, 33, 33, 3.0)
    assert bins.boxes.tolist() == [[9, 15, 1, 7], [16, 22, 1, 7]]
    assert bins.pair_token.tolist() == [0, 1] and bins.tile_start.tolist() == [0, 1, 2] + [2] * 7
    out = render(tokens.float().to(DEVICE), (33, 33), backend="triton").cpu()[0]
    assert out[4, 15].item() == pytest.approx(2 * math.exp(-4.5), rel=1e-6)
    assert out[4, 16].item() == pytest.approx(3 * math.exp(-4.5), rel=1e-6)
    assert (out[:, 8] == 0).all() and (out[:, 23] == 0).all() and (out[8:] == 0).all()
    torch.testing.assert_close(out, render(tokens.float(), (33, 33), backend="dense")[0], rtol=1e-6, atol=1e-7)


def test_tokens_off_the_grid_and_empty_tiles_render_zero_and_get_zero_gradients():
    tokens = torch.tensor([[0.05, 0.05, 0.3, 1.5, -1.6, 1.0, 1.0],  # box beyond the right edge
                           [0.05, 0.05, -0.2, -2.0, 2.0, 1.0, 1.0],  # beyond the bottom-left corner
                           [0.04, 0.06, 0.4, -0.9, -0.9, 0.5, -2.0]])  # top-left tile only
    bins = bin_tokens(tokens, 1, 40, 40, 3.0)
    assert bins.pair_token.tolist() == [2] and bins.tile_start.diff().tolist() == [1] + [0] * 8
    upstream = torch.randn(2, 40, 40, generator=torch.Generator().manual_seed(3))
    out, grad = map_and_grad(tokens, (40, 40), "triton", upstream, DEVICE)
    ref_out, ref_grad = map_and_grad(tokens.double(), (40, 40), "dense", upstream.double())
    assert (out[..., 16:, :] == 0).all() and (out[..., 16:] == 0).all() and (out[..., :16, :16] != 0).any()
    assert (grad[:2] == 0).all()
    torch.testing.assert_close(out.double(), ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-5)


def test_degenerate_sigmas_render_as_dense_and_differentiate_as_numba():
    tokens = torch.tensor([[1e-6, 1e-6, 0.0, 0.0, 0.0, 1.0, 2.0],  # on a pixel centre: that pixel only, v = 1
                           [1e-6, 0.1, 0.5, 0.03, 0.2, 1.0, -1.0],  # between columns: empty box
                           [0.0, 0.2, 0.0, 0.51, -0.3, 2.0, 1.0],  # sigma 0 off the centres: empty
                           [-0.1, 0.2, 0.0, 0.2, 0.2, 1.0, 1.0],  # negative sigma: empty
                           [5.0, 4.0, 0.3, 0.1, -0.2, 0.5, 0.5],  # box wider than the map: every tile
                           [0.2, 0.15, 0.999, -0.4, 0.5, 1.0, -0.5]])  # rho near 1
    size = (21, 41)
    upstream = torch.randn(2, *size, generator=torch.Generator().manual_seed(4))
    out, grad = map_and_grad(tokens, size, "triton", upstream, DEVICE)
    torch.testing.assert_close(out, render(tokens, size, backend="dense"), rtol=1e-5, atol=1e-6)
    assert out[0, 10, 20].item() == pytest.approx(1.0 + render(tokens[4:5], size, backend="dense")[0, 10, 20].item())
    _, numba_grad = map_and_grad(tokens, size, "numba", upstream)
    assert (grad[1:4] == 0).all() and torch.isfinite(grad).all()
    # at rho = 0.999 the float32 exponent carries ~ support^2 * eps / (1 - rho^2) relative error (numba: float64)
    torch.testing.assert_close(grad, numba_grad, rtol=5e-4, atol=1e-4)


def test_nan_colour_spoils_only_its_box():
    tokens = torch.tensor([[0.1, 0.1, 0.0, -0.5, -0.5, float("nan")], [0.1, 0.1, 0.0, 0.5, 0.5, 1.0]])
    out = render(tokens.to(DEVICE), (21, 21), backend="triton").cpu()
    assert out[:, 2:9, 2:9].isnan().all() and out.isnan().sum() == 49 and out[0, 15, 15] > 0
    torch.testing.assert_close(out, render(tokens, (21, 21), backend="dense"), equal_nan=True)


@pytest.mark.parametrize("layout", ["expanded", "channels_last"])
def test_backward_takes_upstream_gradients_of_any_strides(layout):
    tokens = random_tokens(1, 10, 3, seed=6).float()
    size = (18, 20)
    if layout == "expanded":
        upstream = torch.ones(1, 1, 1, 1).expand(1, 3, *size)  # what out.sum().backward() sends: zero strides
    else:
        upstream = torch.randn(1, 3, *size).contiguous(memory_format=torch.channels_last)
    _, grad = map_and_grad(tokens, size, "triton", upstream, DEVICE)
    _, ref = map_and_grad(tokens.double(), size, "dense", upstream.double())
    torch.testing.assert_close(grad.double(), ref, rtol=1e-4, atol=1e-4)


# --- binning and backend choice ---------------------------------------------------------------------------------


def test_box_kernel_gives_the_boxes_of_the_shared_rule():
    tokens = random_tokens(1, 200, 0, seed=9)[0].float()
    tokens[:40, :2] *= 0.02  # boxes of a pixel or two, some empty
    tokens[40:50, 3] = torch.arange(10) / 12 - 0.4  # centres on pixel centres of 25 columns: boxes end on pixels
    tokens[40:50, 0] = 1 / 12
    tokens[50, 0], tokens[51, 3], tokens[52, 1], tokens[53, 3] = float("nan"), float("nan"), -0.1, float("inf")
    tokens[54, 0] = float("inf")
    xs, ys = grid_axis(25, torch.float32), grid_axis(19, torch.float32)
    c0, c1 = axis_ranges(xs, tokens[:, 3], support_bounds(tokens[:, 0], 3.0))
    r0, r1 = axis_ranges(ys, tokens[:, 4], support_bounds(tokens[:, 1], 3.0))
    boxes = bin_tokens(tokens, 1, 19, 25, 3.0).boxes
    assert boxes.tolist() == torch.stack([c0, c1, r0, r1], 1).tolist()
    assert boxes[50].tolist()[:2] == [0, 24] and boxes[51].tolist()[:2] == [0, 24]
    assert (boxes[:, 0] > boxes[:, 1]).any() and (boxes[:, 2] > boxes[:, 3]).any()


def test_every_token_is_listed_in_exactly_the_tiles_its_box_overlaps_in_token_order():
    tokens = random_tokens(2, 30, 1, seed=7).float()
    tokens[..., :2] *= 0.3  # small boxes: some tiles stay empty
    bins = bin_tokens(tokens.reshape(60, 6), 2, 64, 90, 3.0)
    tiles_x, tiles_y = bins.tiles_x, bins.tiles_y
    assert (tiles_x, tiles_y) == (math.ceil(90 / TILE_W), math.ceil(64 / TILE_H))
    expected = {t: [] for t in range(2 * tiles_x * tiles_y)}
    for i, (c0, c1, r0, r1) in enumerate(bins.boxes.tolist()):
        for ty in range(r0 // TILE_H, r1 // TILE_H + 1) if r0 <= r1 and c0 <= c1 else ():
            for tx in range(c0 // TILE_W, c1 // TILE_W + 1):
                expected[((i // 30) * tiles_y + ty) * tiles_x + tx].append(i)
    start = bins.tile_start.tolist()
    listed = {t: bins.pair_token[start[t]:start[t + 1]].tolist() for t in expected}
    assert listed == expected and any(not v for v in listed.values())


def test_auto_chooses_triton_for_cuda_float32_and_half_tokens_and_torch_otherwise():
    def on(device: str, dtype: torch.dtype):
        return SimpleNamespace(device=torch.device(device), dtype=dtype)

    assert _choose("auto", on("cuda", torch.float32)) == "triton"
    assert _choose("auto", on("cuda", torch.bfloat16)) == "triton"
    assert _choose("auto", on("cuda", torch.float64)) == "torch"
    assert _choose("auto", on("cpu", torch.float32)) == "numba"


def test_triton_backend_refuses_float64_tokens_with_one_line():
    with pytest.raises(GPSTokenError) as err:
        render(torch.zeros(3, 6, dtype=torch.float64), (8, 8), backend="triton")
    assert "float32 or half" in str(err.value) and "\n" not in str(err.value)


def test_geometry_only_tokens_and_tokens_that_miss_the_map_give_zero_gradients():
    for tokens in (random_tokens(2, 5, 0, seed=8).float(), torch.tensor([[[0.05, 0.05, 0.0, 3.0, 3.0, 1.0]]])):
        t = tokens.to(DEVICE).requires_grad_(True)
        out = render(t, (8, 9), backend="triton")
        assert out.shape == (*tokens.shape[:1], tokens.shape[2] - 5, 8, 9) and (out == 0).all()
        out.sum().backward()
        assert (t.grad == 0).all()
