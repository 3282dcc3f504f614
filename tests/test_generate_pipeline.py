"""Layout and texture stages, residual and clamps, token inpainting, the pipeline and its CLI commands."""
import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.generate import (Generator, calibrated_layout, generate, preset, sample_layouts, sample_tokens,
                               save_generator)
from gpstoken.generate.latent import from_data, to_data
from gpstoken.generate.layout_files import load_layout
from gpstoken.io.tokenfile import TokenSet
from gpstoken.models import load_tokenizer
from gpstoken.tokens import g_init_from_regions, regions_to_pixels

GOLDEN = Path(__file__).parent / "golden"
TOKENIZER, TOKENIZER_YAML = GOLDEN / "official_tiny_a.safetensors", GOLDEN / "official_tiny_a.yaml"
N, C = 32, 8  # the golden tokenizer: 32 tokens per tile, 8 texture channels

torch.set_num_threads(1)


def random_model(name, **changes):
    torch.manual_seed(0)
    m = Generator(preset(name).replace(**changes))
    with torch.no_grad():  # SiT zero-initialises its output: give it something to say
        for p in m.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.02)
    return m.eval()


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(TOKENIZER, TOKENIZER_YAML)


@pytest.fixture(scope="module")
def layout_model():
    return random_model("layout-tiny", tokens=N, depth=1, hidden_size=32, num_heads=2, num_classes=3)


@pytest.fixture(scope="module")
def texture_model():
    stats = dict(means=tuple(np.linspace(-0.02, 0.5, 5 + C)), stds=(0.01,) * 5 + (2.0,) * C)
    return random_model("texture-tiny", in_channels=5 + C, depth=1, hidden_size=32, num_heads=2, num_classes=3,
                        **stats)


def assert_valid_partition(regions, tile=256):
    area = np.zeros((tile, tile), dtype=np.int32)
    for x0, y0, x1, y1 in regions:
        area[y0:y1 + 1, x0:x1 + 1] += 1
        w, h = x1 - x0 + 1, y1 - y0 + 1
        assert w & (w - 1) == 0 and h & (h - 1) == 0 and min(w, h) >= 8
    assert (area == 1).all()


def test_data_space_round_trip_adds_the_residual_and_clamps(texture_model):
    cfg = texture_model.config
    g = torch.tensor([[[0.05, 0.06, 0.0, -0.5, 0.5]]])
    tokens = torch.cat([g + torch.tensor([[[-0.01, 0.02, 0.3, 0.01, -0.02]]]), torch.randn(1, 1, C)], dim=-1)
    torch.testing.assert_close(from_data(cfg, to_data(cfg, tokens, g), g), tokens, atol=1e-5, rtol=1e-5)
    data = to_data(cfg, tokens, g)
    assert float(data[0, 0, 0]) == pytest.approx((-0.01 - cfg.means[0]) / cfg.stds[0], rel=1e-4)
    wild = torch.zeros(1, 3, 5 + C)
    wild[0, 0, :3] = torch.tensor([-1e3, 1e3, 1e3])
    wild[0, 1, :3] = torch.tensor([1e3, -1e3, -1e3])
    out = from_data(cfg, wild, torch.zeros(1, 3, 5))
    assert out[0, 0, :3].tolist() == pytest.approx([1e-5, 0.99999, 0.99999])
    assert out[0, 1, :3].tolist() == pytest.approx([0.99999, 1e-5, -0.99999])
    assert float(out[0, 2, 3]) == pytest.approx(cfg.means[3])  # mu is not clamped


def test_sampled_layouts_calibrate_to_valid_partitions(layout_model):
    raw, cal = sample_layouts(layout_model, [0, 1, 1], method="euler", steps=4,
                              generator=torch.Generator().manual_seed(0))
    assert raw.shape == (3, N, 5) and cal.regions.shape == (3, N, 4)
    for regions, g in zip(cal.regions, cal.g_init):
        assert_valid_partition(regions)
        np.testing.assert_allclose(g, g_init_from_regions(regions), atol=1e-7)
    with pytest.raises(GPSTokenError, match="class id 3 is out of range"):
        sample_layouts(layout_model, 3, 1)


def test_layout_files_are_repaired_by_calibration(tmp_path):
    rng = np.random.default_rng(0)
    g = np.concatenate([rng.uniform(0.01, 0.1, (20, 2)), np.zeros((20, 1)), rng.uniform(-1, 1, (20, 2))], axis=1)
    g[3] = np.nan  # a broken row is dropped before snapping; the count stays 20
    np.save(tmp_path / "pred.npy", g)
    layout = load_layout(tmp_path / "pred.npy")
    assert layout.tokens_per_tile == 20
    assert_valid_partition(layout.regions)
    sketch = calibrated_layout(g[:5], tokens=16)  # a hand-drawn sketch of 5 Gaussians -> 16 regions
    assert sketch.tokens_per_tile == 16 and sketch.tile_grid == (1, 1)
    assert_valid_partition(sketch.regions)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4)))
    with pytest.raises(GPSTokenError, match="layout array must be"):
        load_layout(tmp_path / "bad.npy")
    np.save(tmp_path / "many.npy", np.tile(g[:1], (2000, 1)))
    with pytest.raises(GPSTokenError, match="tokens must be an integer in 1..1024"):
        load_layout(tmp_path / "many.npy")


def test_kept_tokens_are_kept_exactly(texture_model, device):
    model = copy.deepcopy(texture_model).to(device)
    g = g_init_from_regions(np.array([[0, 0, 127, 255], [128, 0, 255, 127], [128, 128, 255, 255]]))[None]
    known = np.concatenate([g + 0.01, np.random.default_rng(1).normal(size=(1, 3, C))], axis=-1).astype(np.float32)
    mask = np.array([[True, False, True]])
    for method in ("ode", "sde"):
        out = sample_tokens(model, g, 0, method=method, steps=8, keep=(known, mask),
                            generator=torch.Generator().manual_seed(0)).cpu().numpy()
        assert np.array_equal(out[mask], known[mask])
        assert not np.allclose(out[~mask], known[~mask])


def test_two_stage_generation_and_its_errors(tokenizer, layout_model, texture_model, device):
    tokenizer, layout_model, texture_model = (copy.deepcopy(m).to(device) for m in (tokenizer, layout_model,
                                                                                     texture_model))
    steps = []
    out = generate(texture_model, tokenizer, [0, 2], 2, layout_model=layout_model, method="euler", steps=3,
                   layout_method="euler", layout_steps=3, seed=5, callback=lambda i, s, tok: steps.append((i, s)))
    assert len(out) == 2 and steps == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    assert out[0].tokens.shape == (1, N, 5 + C) and out[0].recon.shape == (3, 256, 256)
    assert out[0].image().dtype == np.uint8 and out[1].label == 2
    assert_valid_partition(out[0].layout.regions)
    np.testing.assert_array_equal(out[0].token_set().tokens, out[0].tokens)
    again = generate(texture_model, tokenizer, 0, 1, layout_model=layout_model, method="euler", steps=3,
                     layout_method="euler", layout_steps=3, seed=5, decode=False)
    np.testing.assert_array_equal(again[0].tokens, out[0].tokens)  # image i depends on seed + i only
    with pytest.raises(GPSTokenError, match="class id 3 is out of range"):
        generate(texture_model, tokenizer, 3, 1, layout_model=layout_model)
    wide = random_model("texture-tiny", in_channels=21, depth=1, hidden_size=32, num_heads=2)
    with pytest.raises(GPSTokenError, match="16 texture channels; the tokenizer needs 8"):
        generate(wide, tokenizer, 0, 1, layout_model=layout_model)
    with pytest.raises(GPSTokenError, match="needs a texture generator"):
        sample_tokens(layout_model, np.zeros((1, 2, 5)), 0)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory, layout_model, texture_model):
    d = tmp_path_factory.mktemp("models")
    save_generator(layout_model, d / "layout.safetensors")
    save_generator(texture_model, d / "texture.safetensors")
    return d


def cli(*args):
    return main(["--threads", "1", *map(str, args)])


def common(model_files):
    return ["--model", TOKENIZER, "--config", TOKENIZER_YAML, "--texture-model", model_files / "texture.safetensors",
            "--quiet", "--sampler", "euler", "--steps", "3"]


def test_cli_generate_writes_images_and_token_files(tmp_path, model_files, capsys):
    rc = cli("generate", *common(model_files), "--layout-model", model_files / "layout.safetensors",
             "--layout-sampler", "euler", "--layout-steps", "2", "--num", "2", "--class", "1", "--out", tmp_path / "g")
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["images"] == 2
    for i in range(2):
        assert (tmp_path / "g" / f"{i:06d}.png").is_file()
        ts = TokenSet.load(tmp_path / "g" / f"{i:06d}.npz")
        assert ts.tokens.shape == (1, N, 5 + C)
        assert_valid_partition(regions_to_pixels(ts.regions[0]))


def test_cli_generate_with_a_layout_file_and_inpainting(tmp_path, model_files, capsys):
    assert cli("generate", *common(model_files), "--layout-model", model_files / "layout.safetensors",
               "--layout-sampler", "euler", "--layout-steps", "2", "--out", tmp_path / "a") == 0
    first = TokenSet.load(tmp_path / "a" / "000000.npz")
    assert cli("generate", *common(model_files), "--layout", tmp_path / "a" / "000000.npz", "--seed", "3",
               "--out", tmp_path / "b") == 0
    second = TokenSet.load(tmp_path / "b" / "000000.npz")
    assert {tuple(r) for r in second.regions[0].round(5)} == {tuple(r) for r in first.regions[0].round(5)}
    mask = np.zeros((1, N), dtype=bool)
    mask[0, : N // 2] = True
    np.save(tmp_path / "mask.npy", mask)
    assert cli("generate", *common(model_files), "--keep", tmp_path / "a" / "000000.npz",
               "--keep-mask", tmp_path / "mask.npy", "--seed", "9", "--out", tmp_path / "c") == 0
    kept = TokenSet.load(tmp_path / "c" / "000000.npz")
    np.testing.assert_array_equal(kept.tokens[mask], first.tokens[mask])
    assert not np.allclose(kept.tokens[~mask], first.tokens[~mask])


def test_cli_generate_bad_input_is_one_line(tmp_path, model_files, capsys):
    base = common(model_files) + ["--layout-model", model_files / "layout.safetensors", "--out", tmp_path / "x"]
    assert cli("generate", *base, "--class", "7") == 2
    assert "--class 7 is out of range" in capsys.readouterr().err
    np.save(tmp_path / "mask.npy", np.ones(5, dtype=bool))
    assert cli("generate", *base, "--keep-mask", tmp_path / "mask.npy") == 2
    assert "go together" in capsys.readouterr().err
    err_model = tmp_path / "wide.safetensors"
    save_generator(random_model("texture-tiny", depth=1, hidden_size=32, num_heads=2), err_model)
    args = [a if a != model_files / "texture.safetensors" else err_model for a in base]
    assert cli("generate", *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "texture channels; the tokenizer needs 8" in err


BUNDLED = [Path(__file__).parents[1] / "assets" / "models" / f"{name}.safetensors"
           for name in ("default", "layout_tiny", "texture_tiny")]


@pytest.mark.skipif(not all(p.is_file() for p in BUNDLED), reason="bundled models not present")
def test_cli_generate_with_the_bundled_models(tmp_path, capsys):
    assert cli("generate", "--out", tmp_path, "--quiet", "--seed", "1") == 0
    image = tmp_path / "000000.png"
    from gpstoken.io.images import load_image

    assert load_image(image).shape == (256, 256, 3)
    ts = TokenSet.load(tmp_path / "000000.npz")
    assert_valid_partition(regions_to_pixels(ts.regions[0]))


def test_gpstoken_generate_stays_callable_after_its_package_is_imported():
    import importlib

    import gpstoken

    importlib.import_module("gpstoken.generate")
    assert callable(gpstoken.generate) and gpstoken.load_generator is gpstoken.generate.load_generator
