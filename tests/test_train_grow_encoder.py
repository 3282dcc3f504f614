"""Deepening a trained encoder with identity blocks (gpstoken.train.grow_encoder, issue 13)."""
from __future__ import annotations

import pytest
import torch
from gpstoken.errors import GPSTokenError
from gpstoken.models import load_tokenizer
from gpstoken.models.checkpoint import save_tokenizer
from gpstoken.models.config import preset
from gpstoken.train.grow_encoder import grown_encoder_model, main
from train_helpers import perturbed_model

torch.set_num_threads(1)
SMALL = preset("tiny").replace(gps_rs=(16, 16), gps_num=16, gpsenc_n=2, gpsenc_c=32, heads=2)


def _inputs(n: int = 16):
    torch.manual_seed(1)
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    centres = torch.rand(2, n, 2) * 1.6 - 0.8
    g_init = torch.cat([torch.rand(2, n, 2) * 0.3 + 0.1, torch.zeros(2, n, 1), centres], dim=-1)
    regions = torch.cat([centres - 0.1, centres + 0.1], dim=-1)
    return images, g_init, regions


def test_a_grown_encoder_encodes_exactly_as_before():
    model = perturbed_model(SMALL)
    grown = grown_encoder_model(model, 5)
    assert grown.config.gpsenc_n == 5 and len(grown.encoder.attnblocks) == 5
    with torch.no_grad():
        assert torch.equal(model.encode(*_inputs()), grown.encode(*_inputs()))
    # The old blocks and the decoder are the same tensors' values; the model itself is untouched.
    assert torch.equal(grown.state_dict()["encoder.attnblocks.1.mlp.0.weight"],
                       model.state_dict()["encoder.attnblocks.1.mlp.0.weight"])
    assert model.config.gpsenc_n == 2


def test_the_new_blocks_learn_from_the_first_step():
    grown = grown_encoder_model(perturbed_model(SMALL), 3).train()
    new = grown.encoder.attnblocks[2]
    before = {name: p.detach().clone() for name, p in new.named_parameters()}
    opt = torch.optim.SGD(grown.parameters(), lr=0.1)
    tokens = grown.encode(*_inputs())
    tokens.square().mean().backward()
    opt.step()
    moved = {name for name, p in new.named_parameters() if not torch.equal(p, before[name])}
    assert {"roimlp.weight", "attn1.out_proj.weight", "mlp.2.weight"} <= moved


def test_growing_to_no_more_blocks_is_a_one_line_error():
    with pytest.raises(GPSTokenError, match="more than the encoder's 2 blocks"):
        grown_encoder_model(perturbed_model(SMALL), 2)


def test_the_command_writes_a_model_that_loads_with_the_new_depth(tmp_path, capsys):
    source, out = tmp_path / "small.safetensors", tmp_path / "grown.safetensors"
    save_tokenizer(perturbed_model(SMALL), source)
    assert main([str(source), str(out), "--depth", "4"]) == 0
    assert load_tokenizer(out).config.gpsenc_n == 4
    with pytest.raises(SystemExit) as exit_info:
        main([str(source), str(tmp_path / "no.safetensors"), "--depth", "1"])
    assert exit_info.value.code == 2 and not (tmp_path / "no.safetensors").exists()
    assert capsys.readouterr().err.strip().count("\n") == 0
