"""Training checkpoints (.pt) load as tokenizers: EMA weights and config from the file or the run folder;
torn, foreign and generator .pt files are one CheckpointError line; the CLI's --model reads them too."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.errors import CheckpointError
from gpstoken.models import load_tokenizer
from gpstoken.train import train_tokenizer
from gpstoken.train.state import load_checkpoint, save_checkpoint
from train_helpers import make_images, spec

GOLDEN = Path(__file__).parent / "golden"

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished 4-step micro run (checkpoints at steps 2 and 4)."""
    root = tmp_path_factory.mktemp("train")
    out = root / "run"
    train_tokenizer(spec(out, make_images(root / "data")))
    return out


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_latest_pt_loads_the_ema_weights_the_run_exported(run):
    model = load_tokenizer(run / "checkpoints" / "latest.pt")
    exported = load_tokenizer(run / "model.safetensors")
    assert model.config == exported.config and not model.training
    ours, theirs = model.state_dict(), exported.state_dict()
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        assert torch.equal(ours[k], v), k


def test_a_numbered_step_loads_its_ema_weights_not_the_raw_model(run):
    path = run / "checkpoints" / "step_00000004.pt"
    state = load_checkpoint(path)
    model = load_tokenizer(path)
    shadow, raw = state["ema"]["shadow"], state["model"]
    assert all(torch.equal(v, shadow[k]) for k, v in model.state_dict().items())
    assert any(not torch.equal(shadow[k], raw[k]) for k in raw)  # the EMA blends from step 3 on: they differ


def test_without_ema_the_raw_model_weights_load(run, tmp_path):
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    del state["ema"]
    save_checkpoint(state, tmp_path / "raw.pt")
    model = load_tokenizer(tmp_path / "raw.pt")
    assert all(torch.equal(v, state["model"][k]) for k, v in model.state_dict().items())


def test_a_pt_without_config_takes_its_run_folders_config_json(run, tmp_path):
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    del state["config"]
    lonely = tmp_path / "lonely.pt"
    save_checkpoint(state, lonely)
    assert "holds no model config" in one_line(pytest.raises(CheckpointError, load_tokenizer, lonely))
    (tmp_path / "copy" / "checkpoints").mkdir(parents=True)
    (tmp_path / "copy" / "config.json").write_text((run / "config.json").read_text())
    save_checkpoint(state, tmp_path / "copy" / "checkpoints" / "latest.pt")
    model = load_tokenizer(tmp_path / "copy" / "checkpoints" / "latest.pt")
    assert model.config.to_dict() == json.loads((run / "config.json").read_text())["model"]


def test_truncated_foreign_and_wrong_shape_pt_files_are_one_line_errors(run, tmp_path):
    whole = (run / "checkpoints" / "latest.pt").read_bytes()
    (tmp_path / "torn.pt").write_bytes(whole[: len(whole) // 2])
    assert "truncated or corrupt" in one_line(pytest.raises(CheckpointError, load_tokenizer, tmp_path / "torn.pt"))
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    assert "holds a Tensor" in one_line(pytest.raises(CheckpointError, load_tokenizer, tmp_path / "tensor.pt"))
    torch.save({"model": {}, "when": np.datetime64("2026-01-01")}, tmp_path / "pickled.pt")
    msg = one_line(pytest.raises(CheckpointError, load_tokenizer, tmp_path / "pickled.pt"))
    assert "other than tensors and plain data" in msg  # the safe load refuses arbitrary objects
    state = load_checkpoint(run / "checkpoints" / "latest.pt")
    state["ema"] = {"step": 4}
    save_checkpoint(state, tmp_path / "no_shadow.pt")
    assert "no 'shadow'" in one_line(pytest.raises(CheckpointError, load_tokenizer, tmp_path / "no_shadow.pt"))
    msg = one_line(pytest.raises(CheckpointError, load_tokenizer, run / "checkpoints" / "latest.pt", config="tiny"))
    assert "does not fit the model" in msg


def test_a_generator_training_checkpoint_is_named_as_such(tmp_path):
    from gpstoken.generate.config import preset
    from gpstoken.generate.train import GenTrainConfig, GeneratorTrainer

    data = tmp_path / "images" / "cats"
    data.mkdir(parents=True)
    (data / "chelsea.png").write_bytes((GOLDEN / "chelsea.png").read_bytes())
    model = preset("layout-tiny").replace(tokens=32, num_classes=1).to_dict()
    cfg = GenTrainConfig(model=model, data=str(tmp_path / "images"), examples=2, batch=2, steps=1, sample_every=100)
    GeneratorTrainer(tmp_path / "gen", cfg, device="cpu").run()
    msg = one_line(pytest.raises(CheckpointError, load_tokenizer, tmp_path / "gen" / "checkpoints" / "latest.pt"))
    assert "this is a layout generator checkpoint" in msg


def test_cli_reconstruct_reads_a_training_checkpoint(run, tmp_path):
    out = tmp_path / "r.png"
    code = main(["--threads", "1", "reconstruct", str(GOLDEN / "chelsea.png"), "--model",
                 str(run / "checkpoints" / "latest.pt"), "--out", str(out), "--quiet"])
    assert code == 0 and out.is_file()
