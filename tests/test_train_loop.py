"""The training loop: run files, exported model, exact resume, extend, config mismatch, failed saves, GAN."""
from __future__ import annotations

import json

import pytest
import torch

from gpstoken.errors import GPSTokenError
from gpstoken.models import load_tokenizer
from gpstoken.train import RunSpec, train_tokenizer
from gpstoken.train import state as train_state
from gpstoken.train.state import load_checkpoint
from train_helpers import make_images, micro, spec

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("data"))


def _rows(run, split=None):
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") == split]


def test_a_run_writes_metrics_samples_checkpoints_and_a_loadable_ema_model(tmp_path, data, device):
    run = tmp_path / "run"
    summary = train_tokenizer(spec(run, data, device=device))
    assert summary["status"] == "finished" and summary["step"] == 4
    train_rows = _rows(run)
    assert [r["step"] for r in train_rows] == [1, 2, 3, 4]
    assert all(r["rec_loss"] > 0 and r["img_per_s"] > 0 and r["lr"] == micro().lr for r in train_rows)
    evals = _rows(run, "heldout")
    assert [r["step"] for r in evals] == [2, 4] and all(0 < r["ssim"] <= 1 and r["psnr"] > 0 for r in evals)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_00000002.png", "step_00000004.png"]
    assert {"latest.pt", "best.pt", "step_00000002.pt", "step_00000004.pt"} <= {p.name for p in (run / "checkpoints").iterdir()}
    model = load_tokenizer(run / "model.safetensors")
    assert model.config.to_dict() == micro().model_config.to_dict()
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["step"] == 4
    ema = ckpt["ema"]["shadow"]
    assert all(torch.equal(v, ema[k]) for k, v in model.state_dict().items())
    events = [json.loads(x)["event"] for x in (run / "events.jsonl").read_text().splitlines()]
    assert events[0] == "started" and events[-1] == "finished"


def test_two_x_steps_equal_x_steps_then_resume_x_steps(tmp_path, data):
    cfg = micro(steps=4, eval_every=100, sample_every=100)
    train_tokenizer(spec(tmp_path / "whole", data, cfg))
    train_tokenizer(spec(tmp_path / "parts", data, cfg, steps=2))
    train_tokenizer(RunSpec(out=tmp_path / "parts", resume=True, steps=4))
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "latest.pt")
    b = load_checkpoint(tmp_path / "parts" / "checkpoints" / "latest.pt")
    assert a["step"] == b["step"] == 4
    for part in ("model", "disc"):
        for k, v in a[part].items():
            torch.testing.assert_close(v, b[part][k], rtol=0, atol=0, msg=f"{part}.{k}")
    for k, v in a["ema"]["shadow"].items():
        torch.testing.assert_close(v, b["ema"]["shadow"][k], rtol=0, atol=0)
    assert a["opt"]["state"].keys() == b["opt"]["state"].keys()
    torch.testing.assert_close(a["opt"]["state"][0]["exp_avg"], b["opt"]["state"][0]["exp_avg"], rtol=0, atol=0)
    assert [r["rec_loss"] for r in _rows(tmp_path / "whole")] == [r["rec_loss"] for r in _rows(tmp_path / "parts")]


def test_extend_adds_steps_and_a_foreign_config_is_refused(tmp_path, data):
    run = tmp_path / "run"
    train_tokenizer(spec(run, data, micro(steps=2)))
    assert train_tokenizer(RunSpec(out=run, resume=True, extend=2))["step"] == 4
    with pytest.raises(GPSTokenError, match="does not fit the run.*lr"):
        train_tokenizer(RunSpec(out=run, resume=True, config=micro(lr=0.5), extend=1))
    with pytest.raises(GPSTokenError, match="already holds a run"):
        train_tokenizer(spec(run, data))
    with pytest.raises(GPSTokenError, match="nothing to resume"):
        train_tokenizer(RunSpec(out=tmp_path / "empty", resume=True))


def test_a_failing_save_keeps_the_previous_checkpoint(tmp_path, data, monkeypatch):
    run = tmp_path / "run"
    train_tokenizer(spec(run, data, micro(steps=2)))
    before = (run / "checkpoints" / "latest.pt").read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(train_state.torch, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        train_tokenizer(RunSpec(out=run, resume=True, extend=2))
    monkeypatch.undo()
    assert (run / "checkpoints" / "latest.pt").read_bytes() == before
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp files left
    assert train_tokenizer(RunSpec(out=run, resume=True))["step"] == 4  # the failed attempt's total stays


def test_the_gan_phase_alternates_generator_and_discriminator_steps(tmp_path, data):
    run = tmp_path / "run"
    train_tokenizer(spec(run, data, micro(steps=4, disc_start=1, eval_every=100, sample_every=100)))
    rows = _rows(run)
    assert "g_loss" not in rows[0] and "disc_loss" not in rows[0]  # step 0: reconstruction only
    assert rows[1]["d_weight"] >= 0 and "g_loss" in rows[1]  # disc_start: generator with the adaptive weight
    assert "disc_loss" in rows[2] and "logits_real" in rows[2]  # then the discriminator
    assert "g_loss" in rows[3]


def test_grid_init_run_exports_the_same_architecture(tmp_path, data):
    run = tmp_path / "run"
    train_tokenizer(spec(run, data, micro(steps=2, init="grid")))
    assert load_tokenizer(run / "model.safetensors").config.gps_num == micro().model_config.gps_num
