"""Tokenizer configs: official YAML, presets of the official sizes, JSON round trip, validation."""
from pathlib import Path

import pytest
import torch

from gpstoken.errors import CheckpointError
from gpstoken.models import GPSTokenizer, TokenizerConfig, preset
from gpstoken.models.config import PRESETS, from_official_yaml, resolve_config

GOLDEN = Path(__file__).parent / "golden"


def meta_model(cfg: TokenizerConfig) -> GPSTokenizer:
    with torch.device("meta"):
        return GPSTokenizer(cfg)


def test_official_yaml_is_read():
    cfg = from_official_yaml(GOLDEN / "official_tiny_a.yaml")
    assert (cfg.gps_num, cfg.gps_c, cfg.gpsenc_n, cfg.gpsenc_c, cfg.rois) == (32, 8, 2, 64, 8)
    assert (cfg.decoder_ch, cfg.decoder_ch_mult, cfg.decoder_num_res_blocks, cfg.z_channels) == (32, (1, 2, 4), 1, 8)
    assert cfg.gps_rs == (64, 64) and cfg.gps_dmax == 3 and cfg.gps_adaptive_w == 2.5
    assert cfg.preprocess_channels == 128 and cfg.heads == 8 and cfg.mid_attention
    assert cfg.tile_size == 256 and cfg.default_decode_mode == "merged"


@pytest.mark.parametrize("name,params", [("s64", 128_663_478), ("m128", 128_663_478), ("l256", 128_745_414)])
def test_official_presets_have_the_reference_parameter_counts_and_keys(name, params):
    model = meta_model(preset(name))
    assert sum(p.numel() for p in model.parameters()) == params
    state = model.official_state_dict()
    assert len(state) == 565
    c = preset(name).gps_c
    expected = {
        "decoder.conv_in.weight": (512, c, 3, 3),
        "decoder.mid.attn_1.q.weight": (512, 512, 1, 1),
        "decoder.up.0.block.0.nin_shortcut.weight": (128, 256, 1, 1),
        "decoder.up.1.block.0.nin_shortcut.weight": (256, 512, 1, 1),
        "decoder.up.1.upsample.conv.weight": (256, 256, 3, 3),
        "decoder.up.2.upsample.conv.weight": (512, 512, 3, 3),
        "decoder.norm_out.weight": (128,),
        "decoder.conv_out.weight": (3, 128, 3, 3),
        "preprocess_img.0.weight": (128, 3, 3, 3),
        "preprocess_img.2.temb_proj.weight": (128, 512),
        "roialign_layer.weight": (512, 128, 1, 1),
        "gps_embed.weight": (1, 512),
        "attnblocks.29.roimlp.weight": (1, 64),
        "attnblocks.29.attn1.in_proj_weight": (1536, 512),
        "attnblocks.0.attn1.out_proj.weight": (512, 512),
        "attnblocks.0.mlp.0.weight": (2048, 512),
        "attnblocks.0.mlp.2.weight": (512, 2048),
        "gps_embed_layer.0.weight": (512, 5),
        "gps_embed_layer.2.weight": (512, 512),
        "to_gps.0.weight": (5, 512),
        "to_gps.1.weight": (c, 512),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key


def test_decode_mode_rule_follows_the_reference():
    assert preset("s64").default_decode_mode == "merged"
    assert preset("m128").default_decode_mode == "merged"
    assert preset("l256").default_decode_mode == "tiles"


def test_tiny_preset_is_small_and_keeps_heavy_work_at_the_latent():
    cfg = preset("tiny")
    model = meta_model(cfg)
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    assert cfg.tile_size == 256 and not cfg.mid_attention and not hasattr(model.decoder.mid, "attn_1")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip(name):
    cfg = preset(name)
    again = TokenizerConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.name == cfg.name


def test_resolve_config_accepts_instances_dicts_names_and_yaml():
    cfg = preset("m128")
    assert resolve_config(cfg) is cfg
    assert resolve_config(cfg.to_dict()) == cfg
    assert resolve_config("m128") == cfg
    assert resolve_config(str(GOLDEN / "official_tiny_a.yaml")).gps_num == 32


@pytest.mark.parametrize("changes,needle", [
    ({"z_channels": 8}, "z_channels"),
    ({"decoder_ch": 48}, "multiples of 32"),
    ({"preprocess_channels": 40}, "multiples of 32"),
    ({"gpsenc_c": 100, "heads": 8}, "divisible by heads"),
    ({"gps_num": 0}, "gps_num"),
    ({"decoder_ch_mult": ()}, "ch_mult"),
])
def test_invalid_configs_are_one_line_errors(changes, needle):
    with pytest.raises(CheckpointError) as exc:
        preset("m128").replace(**changes)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_bad_yaml_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such config"):
        from_official_yaml(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2")
    with pytest.raises(CheckpointError, match="not a readable YAML"):
        from_official_yaml(bad)
    bad.write_text("model:\n  gpsconfig: {gps_num: 4}\n")
    with pytest.raises(CheckpointError, match="decoderconfig"):
        from_official_yaml(bad)
    text = (GOLDEN / "official_tiny_a.yaml").read_text()
    bad.write_text(text.replace("    gpsenc_n: 2\n", ""))
    with pytest.raises(CheckpointError, match="missing key 'gpsenc_n'"):
        from_official_yaml(bad)
    bad.write_text(text.replace("attn_resolutions: []", "attn_resolutions: [16]"))
    with pytest.raises(CheckpointError, match="attn_resolutions"):
        from_official_yaml(bad)


def test_unknown_preset():
    with pytest.raises(CheckpointError, match="unknown model preset 'xl'"):
        preset("xl")


def test_the_bundled_default_model_has_the_tiny_presets_shape():
    # The preset is what `train tokenizer --config tiny` builds and what bench_models times.
    from gpstoken.models import load_tokenizer
    from gpstoken.models.default_model import BUNDLED_MODEL

    assert load_tokenizer(BUNDLED_MODEL).config == preset("tiny")
