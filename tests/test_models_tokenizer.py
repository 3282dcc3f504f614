"""Tokenizer behaviour: encode contract, decode modes, the tile-blended norm, tiling, image pipeline."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gpstoken.errors import GPSTokenError
from gpstoken.models import GPSTokenizer, decode_tokens, encode_image, preset, reconstruct
from gpstoken.models.encoder import refine_geometry
from gpstoken.models.layers import TiledGroupNorm
from gpstoken.models.pipeline import partition_image
from gpstoken.models.tiling import from_tiles, to_tiles

GOLDEN = Path(__file__).parent / "golden"


SMALL = preset("tiny").replace(gps_num=32, gps_c=4, z_channels=4, gpsenc_n=1, gpsenc_c=32, heads=4,
                                decoder_ch=32, decoder_ch_mult=(1, 1, 1), mid_attention=True, name="small")
D = 5 + SMALL.gps_c


@pytest.fixture(scope="module")
def model():
    """A small random tokenizer (official shapes are covered by test_models_golden.py)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = GPSTokenizer(SMALL).eval()
    torch.nn.init.normal_(net.encoder.to_gps[0].weight, std=0.05)
    return net


@pytest.fixture(scope="module")
def astronaut():
    """The reference's layout of the astronaut tile, with texture channels cut to the small model's."""
    with np.load(GOLDEN / "official_tiny_a__astronaut.npz") as z:
        d = {k: z[k] for k in z.files}
    d["tokens"] = np.ascontiguousarray(d["tokens"][..., :D])
    return d


def small_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
    return np.ascontiguousarray(np.kron(img, np.ones((8, 8, 1), np.uint8))[:h, :w])


def test_encode_leaves_inputs_alone_and_accepts_any_token_count(model, astronaut):
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    g, r = torch.from_numpy(astronaut["g_init"]), torch.from_numpy(astronaut["regions"])
    g0, r0, x0 = g.clone(), r.clone(), x.clone()
    with torch.inference_mode():
        full = model.encode(x, g, r)
        again = model.encode(x, g, r)
        part = model.encode(x, g[:, :5], r[:, :5])
    assert torch.equal(g, g0) and torch.equal(r, r0) and torch.equal(x, x0)
    assert torch.equal(full, again)  # the reference would re-convert its in-place boxes here
    assert full.shape == (1, 32, D) and part.shape == (1, 5, D)


def test_untrained_geometry_head_returns_g_init():
    cfg = preset("tiny").replace(gpsenc_n=1, gps_num=6)
    torch.manual_seed(0)
    net = GPSTokenizer(cfg).eval()
    g = torch.tensor([[[0.02, 0.3, 0.0, -0.9, 0.5], [0.66, 0.66, 0.0, 0.0, 0.0], [0.1, 0.05, 0.3, 0.2, -0.4]]])
    r = torch.tensor([[[-1.0, 0.0, -0.8, 0.9], [-1, -1, 1, 1], [0, -0.5, 0.4, -0.3]]])
    with torch.inference_mode():
        out = net.encode(torch.zeros(1, 3, 256, 256), g, r)
    torch.testing.assert_close(out[..., :5], g, atol=1e-6, rtol=0)


def test_refine_geometry_is_the_logit_and_atanh_residual():
    g = torch.tensor([[0.2, 0.5, -0.3, 0.7, -0.1]], dtype=torch.float64)
    d = torch.tensor([[0.4, -1.0, 0.2, -0.6, 1.5]], dtype=torch.float64)
    out = refine_geometry(g, d)
    sig = 1 / (1 + torch.exp(-(-torch.log(1 / g[:, :2] - 1) + d[:, :2])))
    rest = 2 / (1 + torch.exp(-(-torch.log(2 / (1 + g[:, 2:]) - 1) + d[:, 2:]))) - 1
    torch.testing.assert_close(out, torch.cat([sig, rest], 1))


def test_tiles_mode_decodes_each_tile_alone_and_stitches(model, astronaut):
    tokens = torch.from_numpy(astronaut["tokens"]).repeat(2, 1, 1)  # a 1x2 image of two equal tiles
    tokens[1, :, 5:] *= -1
    with torch.inference_mode():
        stitched = model.decode(tokens, (1, 2), mode="tiles", tiles_per_batch=1)
        singles = [model.decode(tokens[i:i + 1], (1, 1), mode="merged") for i in range(2)]
    assert stitched.shape == (1, 3, 256, 512)
    torch.testing.assert_close(stitched, torch.cat(singles, dim=3))


def test_merged_mode_on_a_non_square_grid(model, astronaut):
    tokens = torch.from_numpy(astronaut["tokens"]).repeat(2, 1, 1)
    with torch.inference_mode():
        out = model.decode(tokens, (2, 1), mode="merged")
    assert out.shape == (1, 3, 512, 256) and torch.isfinite(out).all()


def test_decode_errors_are_one_line(model, astronaut):
    tokens = torch.from_numpy(astronaut["tokens"])
    for kwargs, needle in [
        ({"tile_grid": (1, 1), "mode": "blend"}, "decode mode"),
        ({"tile_grid": (2, 2)}, "do not fill"),
    ]:
        with pytest.raises(GPSTokenError, match=needle):
            model.decode(tokens, **kwargs)
    with pytest.raises(GPSTokenError, match="tokens must be"):
        model.decode(tokens[..., :D - 1], (1, 1))
    with pytest.raises(GPSTokenError, match="disagree"):
        model.encode(torch.zeros(2, 3, 256, 256), torch.zeros(1, 4, 5), torch.zeros(1, 4, 4))
    with pytest.raises(GPSTokenError, match="NaN"):
        model.encode(torch.zeros(1, 3, 256, 256), torch.full((1, 4, 5), float("nan")), torch.zeros(1, 4, 4))


def test_tiled_norm_at_one_tile_is_the_reference_formula():
    torch.manual_seed(1)
    norm = TiledGroupNorm(64)
    torch.nn.init.normal_(norm.weight)
    torch.nn.init.normal_(norm.bias)
    x = torch.randn(2, 64, 9, 7) * 0.01 + 3.0  # small std makes the eps placement visible
    z = x.double().reshape(2, 32, -1)
    ref = (z - z.mean(-1, keepdim=True)) / (z.std(-1, unbiased=False, keepdim=True) + 1e-6)
    ref = ref.reshape(x.shape) * norm.weight.double()[:, None, None] + norm.bias.double()[:, None, None]
    torch.testing.assert_close(norm(x).double(), ref, atol=2e-4, rtol=1e-4)
    plain = F.group_norm(x.double(), 32, norm.weight.double(), norm.bias.double(), 1e-6)
    assert (plain - ref).abs().max() > 1e-3


def test_tiled_norm_blends_bicubically_resized_tile_statistics():
    torch.manual_seed(2)
    norm = TiledGroupNorm(32)
    x = torch.randn(1, 32, 8, 12) * torch.linspace(0.5, 2, 12) + torch.linspace(-1, 1, 8)[:, None]
    tiles = to_tiles(x, (2, 3)).reshape(6, 32, -1)
    mean, std = tiles.mean(-1), tiles.std(-1, unbiased=False)
    maps = [F.interpolate(from_tiles(s.reshape(6, 32, 1, 1), (2, 3)), size=(8, 12), mode="bicubic",
                          align_corners=False) for s in (mean, std)]
    ref = (x - maps[0]) / (maps[1] + 1e-6)
    with torch.no_grad():
        torch.testing.assert_close(norm(x, (2, 3)), ref, atol=1e-5, rtol=1e-5)
    # With gradients on, the statistics are differentiable and give the same values.
    xg = x.clone().requires_grad_(True)
    out = norm(xg, (2, 3))
    torch.testing.assert_close(out.detach(), ref, atol=1e-5, rtol=1e-5)
    out.square().sum().backward()
    assert torch.isfinite(xg.grad).all()


def test_tiled_norm_of_identical_tiles_equals_one_tile():
    torch.manual_seed(3)
    norm = TiledGroupNorm(32)
    x = torch.randn(1, 32, 6, 6)
    with torch.no_grad():
        one = norm(x)
        four = norm(x.repeat(1, 1, 2, 2), (2, 2))
    torch.testing.assert_close(four, one.repeat(1, 1, 2, 2), atol=2e-5, rtol=1e-5)


def test_tiles_round_trip():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    t = to_tiles(x, (2, 3))
    assert t.shape == (12, 3, 2, 2)
    torch.testing.assert_close(t[1], x[0, :, :2, 2:4])  # row-major tiles
    torch.testing.assert_close(from_tiles(t, (2, 3)), x)


def test_reconstruct_pads_to_whole_tiles_and_crops_back(model):
    img = small_image(300, 200)
    result = reconstruct(model, img, tokens_per_tile=16)
    assert result.partition.tile_grid == (2, 1) and result.tokens.shape == (2, 16, D)
    assert result.recon.shape == (3, 300, 200) and result.image().shape == (300, 200, 3)
    # Decoding the same tokens again, per tile, gives the same top tile as decoding it alone.
    tiles = decode_tokens(model, result.tokens, (2, 1), mode="tiles")
    alone = decode_tokens(model, result.tokens[:1], (1, 1), mode="merged")
    np.testing.assert_allclose(tiles[:, :256], alone, atol=1e-5)


def test_encode_image_uses_a_given_layout_and_checks_it(model):
    img = small_image(256, 256, seed=4)
    layout = partition_image(model, img, tokens_per_tile=8)
    used, tokens = encode_image(model, img, layout=layout)
    assert used is layout and tokens.shape == (1, 8, D)
    with pytest.raises(GPSTokenError, match="layout is for"):
        encode_image(model, small_image(256, 512), layout=layout)
    with pytest.raises(GPSTokenError, match="uint8"):
        encode_image(model, img.astype(np.float32))


def test_bf16_autocast_keeps_geometry_in_float32(model, astronaut, device):
    net = copy.deepcopy(model).to(device)
    x = (torch.rand(1, 3, 256, 256) * 2 - 1).to(device)
    g, r = torch.from_numpy(astronaut["g_init"]).to(device), torch.from_numpy(astronaut["regions"]).to(device)
    with torch.inference_mode():
        ref = net.encode(x, g, r)
        with torch.autocast(device, dtype=torch.bfloat16):
            low = net.encode(x, g, r)
    assert low.dtype == torch.float32
    assert (low[..., 3:5] - ref[..., 3:5]).abs().max() < 0.02


@pytest.mark.parametrize("grid", [(1, 1), (2, 2)])
def test_tiled_norm_gradient_is_exact(grid):
    torch.manual_seed(5)
    norm = TiledGroupNorm(64).double()
    torch.nn.init.normal_(norm.weight)
    x = (torch.randn(1, 64, 8, 8, dtype=torch.float64) * 0.01 + 0.5).requires_grad_(True)
    w = torch.randn(1, 64, 8, 8, dtype=torch.float64)
    (norm(x, grid) * w).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    tiles = to_tiles(x, grid).reshape(grid[0] * grid[1], 32, -1)
    stats = [from_tiles(s.reshape(-1, 32, 1, 1), grid) for s in (tiles.mean(-1), tiles.std(-1, unbiased=False))]
    if grid != (1, 1):
        stats = [F.interpolate(s, size=(8, 8), mode="bicubic", align_corners=False) for s in stats]
    ref = (x - stats[0].repeat_interleave(2, 1)) / (stats[1].repeat_interleave(2, 1) + 1e-6)
    ((ref * norm.weight[:, None, None] + norm.bias[:, None, None]) * w).sum().backward()
    torch.testing.assert_close(ours, x.grad, rtol=1e-9, atol=1e-9 * x.grad.abs().max().item())


def test_training_step_reaches_every_used_weight(model, astronaut, device):
    net = GPSTokenizer(SMALL).train().to(device)
    x = (torch.rand(1, 3, 256, 256) * 2 - 1).to(device)
    recon = net(x, torch.from_numpy(astronaut["g_init"]).to(device), torch.from_numpy(astronaut["regions"]).to(device))
    assert recon.shape == (1, 3, 256, 256)
    (recon - x).square().mean().backward()
    for name, p in net.named_parameters():
        if "temb_proj" in name:  # the reference's unused time-embedding weights
            assert p.grad is None, name
        else:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
