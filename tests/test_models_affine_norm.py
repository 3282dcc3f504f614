"""The statistics-free decoder (``decoder_norm: affine``) and the conversion of a GroupNorm decoder
into it (issue 13: GroupNorm let the bundled model park a spike at each tile's bottom-right corner)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from gpstoken.errors import CheckpointError, GPSTokenError
from gpstoken.models import load_tokenizer
from gpstoken.models.checkpoint import save_tokenizer
from gpstoken.models.config import preset
from gpstoken.models.layers import ChannelAffine, TiledGroupNorm
from gpstoken.models.pipeline import reconstruct
from gpstoken.models.tokenizer import GPSTokenizer
from gpstoken.train.affine_norm import affine_decoder_model, main
from train_helpers import perturbed_model

torch.set_num_threads(1)
SMALL = preset("tiny").replace(gps_rs=(16, 16), gps_num=16, decoder_norm="group")


def _spike_reach(config) -> float:
    """Largest output change in the top-left quarter when one feature cell at the bottom-right spikes."""
    model = perturbed_model(config)
    torch.manual_seed(1)
    z = torch.randn(1, config.gps_c, 16, 16) * 0.1
    spiked = z.clone()
    spiked[:, :, -1, -1] += 50.0
    with torch.no_grad():
        a, b = model.decode_features(z)[0], model.decode_features(spiked)[0]
    return float((a - b)[:, :16, :16].abs().max())


def test_a_spike_in_one_corner_rescales_a_groupnorm_decoder_everywhere_but_not_an_affine_one():
    assert _spike_reach(SMALL.replace(decoder_norm="group")) > 0.05
    assert _spike_reach(SMALL.replace(decoder_norm="affine")) == 0.0


def test_affine_decoders_use_channel_affine_norms_with_groupnorms_parameter_names():
    group, affine = GPSTokenizer(SMALL), GPSTokenizer(SMALL.replace(decoder_norm="affine"))
    assert list(group.state_dict()) == list(affine.state_dict())
    norms = [m for m in affine.decoder.modules() if isinstance(m, (ChannelAffine, TiledGroupNorm))]
    assert norms and all(isinstance(m, ChannelAffine) for m in norms)


def test_a_bad_decoder_norm_is_a_one_line_config_error():
    with pytest.raises(CheckpointError, match="decoder_norm must be one of group, affine"):
        SMALL.replace(decoder_norm="batch")


def test_converting_over_one_image_reproduces_that_images_reconstruction(tmp_path):
    # Statistics averaged over a single image are that image's own, so folding them in is exact there.
    model = perturbed_model(SMALL)
    rng = np.random.default_rng(0)
    image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    other = np.full((64, 64, 3), 90, np.uint8)
    converted = affine_decoder_model(model, [image], 16)
    assert converted.config.decoder_norm == "affine"
    before = reconstruct(model, image, 16, precision="fp32").recon
    after = reconstruct(converted, image, 16, precision="fp32").recon
    assert np.abs(before - after).max() < 1e-3
    # Elsewhere it differs (no per-image statistics), and the result saves and loads as affine.
    assert np.abs(reconstruct(model, other, 16, precision="fp32").recon
                  - reconstruct(converted, other, 16, precision="fp32").recon).max() > 1e-2
    save_tokenizer(converted, tmp_path / "affine.safetensors")
    loaded = load_tokenizer(tmp_path / "affine.safetensors")
    assert loaded.config.decoder_norm == "affine"
    assert np.abs(reconstruct(loaded, image, 16, precision="fp32").recon - after).max() < 1e-5


def test_converting_an_affine_model_again_is_a_clear_error():
    with pytest.raises(GPSTokenError, match="no GroupNorm"):
        affine_decoder_model(GPSTokenizer(SMALL.replace(decoder_norm="affine")), [np.zeros((64, 64, 3), np.uint8)])


def test_the_command_line_converts_a_model_file(tmp_path, capsys):
    from PIL import Image

    source = tmp_path / "group.safetensors"
    save_tokenizer(perturbed_model(SMALL), source)
    for i in range(3):
        Image.fromarray(np.full((64, 64, 3), 40 * i + 30, np.uint8)).save(tmp_path / f"im{i}.png")
    assert main([str(source), str(tmp_path), str(tmp_path / "out.safetensors"), "--count", "2"]) == 0
    assert "over 2 images" in capsys.readouterr().out
    assert load_tokenizer(tmp_path / "out.safetensors").config.decoder_norm == "affine"


def test_the_command_line_refuses_a_broken_model_file_and_a_bad_count_in_one_line(tmp_path, capsys):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(SystemExit) as info:
        main([str(broken), str(tmp_path), str(tmp_path / "out.safetensors")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    with pytest.raises(SystemExit):
        main([str(broken), str(tmp_path), str(tmp_path / "out.safetensors"), "--count", "0"])
    assert "--count must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()
