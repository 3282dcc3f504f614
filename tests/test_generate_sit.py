"""The SiT generator against the official fixture, and its checkpoint loader's errors."""
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gpstoken.errors import CheckpointError, GPSTokenError
from gpstoken.generate import Generator, GeneratorConfig, from_official_yaml, load_generator, preset, save_generator

GOLDEN = Path(__file__).parent / "golden"
CKPT, YAML = GOLDEN / "official_sit_tiny_a.safetensors", GOLDEN / "official_sit_tiny_a.yaml"

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return load_generator(CKPT, YAML)


@pytest.fixture(scope="module")
def io():
    return dict(np.load(GOLDEN / "official_sit_tiny_a__io.npz"))


def tokens_first(a):
    """Official latent [B,C,N,1] -> our [B,N,C]."""
    return torch.from_numpy(a[..., 0]).permute(0, 2, 1)


def test_official_yaml_gives_the_fixture_shape():
    cfg = from_official_yaml(YAML)
    shape = (cfg.tokens, cfg.in_channels, cfg.hidden_size, cfg.depth, cfg.num_heads, cfg.num_classes)
    assert shape == (32, 13, 64, 2, 4, 10)
    assert cfg.learn_sigma and cfg.cond_channels == 5 and cfg.texture_channels == 8 and cfg.null_class == 10


def test_forward_with_layout_condition_matches_reference(model, io):
    with torch.no_grad():
        out = model.velocity(tokens_first(io["x"]), torch.from_numpy(io["t"]), torch.from_numpy(io["y"]),
                             torch.from_numpy(io["cond"]))
    assert np.abs(out.numpy() - tokens_first(io["out_cond"]).numpy()).max() < 1e-4


def test_forward_without_condition_uses_positional_embedding(model, io):
    with torch.no_grad():
        out = model.velocity(tokens_first(io["x"]), torch.from_numpy(io["t"]), torch.from_numpy(io["y"]))
    assert np.abs(out.numpy() - tokens_first(io["out_nocond"]).numpy()).max() < 1e-4


def test_guided_velocity_matches_reference_cfg_batch(model, io):
    half = len(io["cfg_y"]) // 2
    assert (io["cfg_y"][half:] == 10).all()  # the reference's batch: [cond; uncond], same x and layout
    with torch.no_grad():
        out = model.velocity(tokens_first(io["cfg_x"][:half]), torch.from_numpy(io["cfg_t"][:half]),
                             torch.from_numpy(io["cfg_y"][:half]), torch.from_numpy(io["cfg_cond"][:half]),
                             cfg_scale=float(io["cfg_scale"]), guidance_interval=(0.2, 1.0))
    expected = tokens_first(io["out_cfg"][:half]).numpy()
    assert np.abs(out.numpy() - expected).max() < 1e-4


def test_guidance_applies_only_inside_the_interval(model, io):
    x, y, cond = tokens_first(io["x"]), torch.from_numpy(io["y"]), torch.from_numpy(io["cond"])
    t = torch.tensor([0.1, 0.6])
    with torch.no_grad():
        plain = model.velocity(x, t, y, cond)
        uncond = model.velocity(x, t, torch.full_like(y, 10), cond)
        guided = model.velocity(x, t, y, cond, cfg_scale=3.0, guidance_interval=(0.2, 1.0))
        edge = model.velocity(x, torch.tensor([0.2, 0.2]), y, cond, cfg_scale=3.0, guidance_interval=(0.2, 0.2))
        edge_plain = model.velocity(x, torch.tensor([0.2, 0.2]), y, cond)
    torch.testing.assert_close(guided[0], plain[0])  # t = 0.1 < low: no guidance
    torch.testing.assert_close(guided[1], uncond[1] + 3.0 * (plain[1] - uncond[1]), atol=1e-5, rtol=1e-5)
    assert (edge - edge_plain).abs().max() > 1e-3  # both ends of the interval are inside


def test_velocity_rejects_bad_inputs(model, io):
    x = tokens_first(io["x"])
    with pytest.raises(GPSTokenError, match="class ids"):
        model.velocity(x, 0.5, torch.tensor([3, 11]))
    with pytest.raises(GPSTokenError, match="x must be"):
        model.velocity(x[..., :12], 0.5, 0)
    with pytest.raises(GPSTokenError, match="without a layout"):
        model.velocity(x[:, :16], 0.5, 0)
    with pytest.raises(GPSTokenError, match="cond must be"):
        model.velocity(x, 0.5, 0, torch.zeros(2, 32, 4))


def test_any_token_count_works_with_a_layout_condition(model):
    x, cond = torch.randn(1, 7, 13), torch.rand(1, 7, 5) * 0.5
    with torch.no_grad():
        out = model.velocity(x, 0.3, 1, cond)
        perm = torch.randperm(7)
        out_perm = model.velocity(x[:, perm], 0.3, 1, cond[:, perm])
    torch.testing.assert_close(out[:, perm], out_perm, atol=1e-5, rtol=1e-5)  # permutation-equivariant


def test_loader_names_the_first_bad_key(tmp_path):
    state = load_file(CKPT)
    bad = dict(state)
    bad["ema_model.blocks.0.attn.qkv.weight"] = torch.zeros(192, 32)
    save_file(bad, tmp_path / "shape.safetensors")
    with pytest.raises(CheckpointError, match=r"'blocks.0.attn.qkv.weight' has shape \[192,32\].*\[192,64\]"):
        load_generator(tmp_path / "shape.safetensors", YAML)
    missing = {k: v for k, v in state.items() if k != "ema_model.pos_embed"}
    save_file(missing, tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="missing key 'pos_embed' \\[1,32,64\\]"):
        load_generator(tmp_path / "missing.safetensors", YAML)
    extra = dict(state, **{"ema_model.extra.weight": torch.zeros(3), "online_model.pos_embed": torch.zeros(1)})
    save_file(extra, tmp_path / "extra.safetensors")
    with pytest.raises(CheckpointError, match="unexpected key 'extra.weight'"):
        load_generator(tmp_path / "extra.safetensors", YAML)
    with pytest.raises(CheckpointError, match="no generator config"):
        load_generator(CKPT)
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generator(tmp_path / "junk.safetensors", YAML)


def test_official_file_with_online_weights_loads_only_ema(tmp_path, model, io):
    state = load_file(CKPT)
    state.update({"online_model." + k[len("ema_model."):]: torch.zeros_like(v) for k, v in state.items()})
    save_file(state, tmp_path / "both.safetensors")
    loaded = load_generator(tmp_path / "both.safetensors", YAML)
    torch.testing.assert_close(loaded.pos_embed, model.pos_embed)


def test_our_checkpoints_round_trip_with_config_and_stats(tmp_path):
    cfg = preset("texture-tiny").replace(in_channels=13, means=tuple(range(13)), stds=(2.0,) * 13, num_classes=3)
    torch.manual_seed(0)
    m = Generator(cfg)
    save_generator(m, tmp_path / "g.safetensors")
    assert all(k.startswith("ema_model.") for k in load_file(tmp_path / "g.safetensors"))
    back = load_generator(tmp_path / "g.safetensors")
    assert back.config == cfg
    for a, b in zip(m.state_dict().values(), back.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_paper_conditioning_adds_a_condition_mlp_per_block():
    cfg = preset("texture-tiny").replace(conditioning="paper", depth=2)
    keys = Generator(cfg).state_dict().keys()
    assert "cond_embedder.0.weight" not in keys
    assert {"blocks.0.cond_mlp.0.weight", "blocks.1.cond_mlp.2.weight"} <= set(keys)
    ref_keys = Generator(cfg.replace(conditioning="reference")).state_dict().keys()
    assert "cond_embedder.0.weight" in ref_keys and not any("cond_mlp" in k for k in ref_keys)


def test_config_validation_is_one_line():
    with pytest.raises(CheckpointError, match="not divisible"):
        GeneratorConfig(hidden_size=100, num_heads=16)
    with pytest.raises(CheckpointError, match="means has 3 values"):
        preset("layout-tiny").replace(means=(0, 0, 0))
    with pytest.raises(CheckpointError, match="unknown generator preset"):
        preset("huge")
