"""Fine-tuning: a new training run can start from a model file's weights (``--weights``)."""
from __future__ import annotations

import pytest
import torch
from gpstoken.errors import GPSTokenError
from gpstoken.models import load_tokenizer
from gpstoken.train import train_tokenizer
from train_helpers import make_images, micro, spec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("source") / "run"
    train_tokenizer(spec(run, data))
    return run / "model.safetensors"


def test_a_run_started_from_weights_begins_at_those_weights(tmp_path, data, trained):
    # One step at a negligible learning rate: the exported EMA (a copy during warm-up) is the source model.
    train_tokenizer(spec(tmp_path / "ft", data, micro(lr=1e-12, steps=1), weights=str(trained)))
    source = load_tokenizer(trained).state_dict()
    tuned = load_tokenizer(tmp_path / "ft" / "model.safetensors").state_dict()
    assert all(torch.allclose(tuned[k], v, atol=1e-8) for k, v in source.items())
    train_tokenizer(spec(tmp_path / "scratch", data, micro(lr=1e-12, steps=1)))
    scratch = load_tokenizer(tmp_path / "scratch" / "model.safetensors").state_dict()
    assert not all(torch.allclose(scratch[k], v, atol=1e-4) for k, v in source.items())


def test_weights_of_another_architecture_are_refused_in_one_line(tmp_path, data, trained):
    other = micro(model={**micro().model, "gps_c": 8, "z_channels": 8})
    with pytest.raises(GPSTokenError, match="do not fit") as info:
        train_tokenizer(spec(tmp_path / "ft", data, other, weights=str(trained)))
    assert "\n" not in str(info.value)


def test_weights_with_another_decoder_norm_are_refused_in_one_line(tmp_path, data, trained):
    # GroupNorm and the affine norm share parameter names: without the check the weights would load.
    affine = micro(model={**micro().model, "decoder_norm": "affine"})
    with pytest.raises(GPSTokenError, match="decoder norm is 'group'") as info:
        train_tokenizer(spec(tmp_path / "ft", data, affine, weights=str(trained)))
    assert "\n" not in str(info.value)


def test_a_converted_affine_model_fine_tunes_and_exports_as_affine(tmp_path, data, trained):
    from gpstoken.io.images import load_image
    from gpstoken.models.checkpoint import save_tokenizer
    from gpstoken.train.affine_norm import affine_decoder_model

    source = load_tokenizer(trained)
    images = [load_image(p) for p in sorted(data.iterdir())]
    save_tokenizer(affine_decoder_model(source, [im[:32, :32] for im in images]), tmp_path / "affine.safetensors")
    affine = micro(model={**micro().model, "decoder_norm": "affine"})
    train_tokenizer(spec(tmp_path / "ft", data, affine, weights=str(tmp_path / "affine.safetensors")))
    tuned = load_tokenizer(tmp_path / "ft" / "model.safetensors")
    assert tuned.config.decoder_norm == "affine"
    assert all(torch.isfinite(v).all() for v in tuned.state_dict().values())
    start = load_tokenizer(tmp_path / "affine.safetensors").state_dict()
    assert any(not torch.equal(start[k], v) for k, v in tuned.state_dict().items())


def test_weights_of_a_shallower_encoder_are_refused_with_how_to_grow_them(tmp_path, data, trained):
    deeper = micro(model={**micro().model, "gpsenc_n": 3})
    with pytest.raises(GPSTokenError, match="encoder has 1 blocks, this run's has 3 .*grow_encoder") as info:
        train_tokenizer(spec(tmp_path / "ft", data, deeper, weights=str(trained)))
    assert "\n" not in str(info.value)


def test_a_grown_model_fine_tunes_at_its_new_depth(tmp_path, data, trained):
    from gpstoken.models.checkpoint import save_tokenizer
    from gpstoken.train.grow_encoder import grown_encoder_model

    save_tokenizer(grown_encoder_model(load_tokenizer(trained), 2), tmp_path / "grown.safetensors")
    deeper = micro(model={**micro().model, "gpsenc_n": 2})
    train_tokenizer(spec(tmp_path / "ft", data, deeper, weights=str(tmp_path / "grown.safetensors")))
    assert load_tokenizer(tmp_path / "ft" / "model.safetensors").config.gpsenc_n == 2
