"""The flat-plane training term (issue 13's tile-corner blob): its measure, its gradients, its effect, its logs."""
from __future__ import annotations

import json

import torch

from gpstoken.models import GPSTokenizer
from gpstoken.train import train_tokenizer
from gpstoken.train.flat_plane import FlatPlaneTerm, detail_map, flat_penalty
from train_helpers import make_images, micro, spec

torch.set_num_threads(1)


def test_flat_penalty_is_zero_on_the_flat_colour_and_weights_one_blob_above_spread_texture():
    colour = torch.tensor([0.2, -0.4, 0.6])
    flat = colour.view(1, 3, 1, 1).expand(1, 3, 128, 128).clone()
    assert max(float(v) for v in flat_penalty(flat, colour)) < 1e-6
    g = torch.Generator().manual_seed(0)
    blob, spread = flat.clone(), flat.clone()
    blob[..., 100:116, 100:116] += 0.5 * torch.randn(1, 3, 16, 16, generator=g)
    spread += 0.05 * torch.randn(1, 3, 128, 128, generator=g)
    # The mean detail counts once; the window norm adds about as much for spread texture and many
    # times more for one blob.
    for plane, low, high in ((spread, 1.9, 2.1), (blob, 4.0, 16.0)):
        detail, _ = flat_penalty(plane, colour)
        assert low < float(detail) / float(detail_map(plane).mean()) < high


def _micro_model() -> GPSTokenizer:
    torch.manual_seed(0)
    return GPSTokenizer(micro().model_config)


def test_the_term_reaches_encoder_and_decoder_and_training_on_it_flattens_the_plane():
    cfg = micro().model_config
    model = _micro_model()
    term = FlatPlaneTerm(cfg.tile_size, cfg.gps_num, lam=2.5, min_size=4)
    torch.manual_seed(1)
    loss, logs = term(model, 1.0)
    loss.backward()
    assert set(logs) == {"flat_detail", "flat_mse"} and logs["flat_detail"] > 0
    for part in (model.encoder, model.decoder):
        assert sum(float(p.grad.abs().sum()) for p in part.parameters() if p.grad is not None) > 0
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    details = []
    for step in range(30):
        torch.manual_seed(step)
        loss, logs = term(model, 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        details.append(logs["flat_detail"])
    assert sum(details[-5:]) < 0.5 * sum(details[:5])


def test_a_run_with_flat_weight_logs_the_term_and_one_without_does_not(tmp_path):
    data = make_images(tmp_path / "data")
    rows = {}
    for weight in (0.0, 2.0):
        run = tmp_path / f"run{weight}"
        train_tokenizer(spec(run, data, micro(steps=2, flat_weight=weight)))
        lines = (run / "metrics.jsonl").read_text().splitlines()
        rows[weight] = [r for r in map(json.loads, lines) if "rec_loss" in r]
    assert all("flat_detail" not in r for r in rows[0.0])
    assert all(r["flat_detail"] > 0 and r["flat_mse"] >= 0 for r in rows[2.0])
    assert json.loads((tmp_path / "run2.0" / "config.json").read_text())["flat_weight"] == 2.0
