"""Test-time refinement (gpstoken.refine) and ``--refine`` of encode/reconstruct: never worse than the start,
locks hold bit for bit, every-token-locked returns at once, cancel keeps the best state, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image
from gpstoken.io.tokenfile import TokenSet
from gpstoken.models import load_tokenizer
from gpstoken.models.pipeline import decode_tokens, encode_image
from gpstoken.refine import refine

GOLDEN = Path(__file__).parent / "golden"
CKPT = GOLDEN / "official_tiny_a.safetensors"
YAML = GOLDEN / "official_tiny_a.yaml"
MODEL = ["--model", str(CKPT), "--config", str(YAML), "--quiet"]
ASTRONAUT = GOLDEN / "astronaut.png"
TOKENS = 32


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return load_tokenizer(CKPT, YAML)


@pytest.fixture(scope="module")
def image():
    return load_image(ASTRONAUT)


@pytest.fixture(scope="module")
def start(model, image) -> np.ndarray:
    _, tokens = encode_image(model, image, tokens_per_tile=TOKENS)
    return tokens[0]


def psnr_of(model, image, tokens: np.ndarray) -> float:
    recon = np.clip(decode_tokens(model, tokens[None], (1, 1), image.shape[:2], "merged"), -1, 1)
    mse = np.mean((recon - (image.transpose(2, 0, 1) / 127.5 - 1)) ** 2)
    return 10 * np.log10(4 / mse)


def test_refining_raises_psnr_and_returns_the_best_state_it_saw(model, image, start):
    result = refine(model, image, start, (1, 1), steps=4)
    assert result.steps_done == 4 and result.stopped == "done"
    assert result.psnr > result.psnr_before
    assert result.best_step == int(np.argmax(result.psnr_history))
    assert psnr_of(model, image, result.tokens) == pytest.approx(result.psnr, abs=1e-3)
    assert psnr_of(model, image, start) == pytest.approx(result.psnr_before, abs=1e-3)
    assert np.all(np.diff(result.seconds_history) >= 0)


def test_when_every_step_is_worse_the_start_tokens_come_back_bit_for_bit(model, image, start, monkeypatch):
    decode, calls = model.decode_features, []

    def drifting(features, grid):  # each later state decodes further off: no step can beat the start
        calls.append(1)
        return decode(features, grid) + 0.2 * (len(calls) - 1)

    monkeypatch.setattr(model, "decode_features", drifting)
    result = refine(model, image, start, (1, 1), steps=3)
    assert len(calls) == 4 and result.psnr_history[1:].max() < result.psnr_history[0]
    assert result.best_step == 0 and result.psnr == result.psnr_before
    assert np.array_equal(result.tokens, start)


def test_locked_geometry_and_features_stay_bit_exact_and_the_rest_moves(model, image, start):
    rng = np.random.default_rng(3)
    lock_g = rng.random(len(start)) < 0.4
    lock_f = rng.random(len(start)) < 0.4
    result = refine(model, image, start, (1, 1), steps=3, locked_geometry=lock_g, locked_features=lock_f)
    assert result.best_step > 0
    assert np.array_equal(result.tokens[lock_g, :5], start[lock_g, :5])
    assert np.array_equal(result.tokens[lock_f, 5:], start[lock_f, 5:])
    assert (result.tokens[~lock_g, :5] != start[~lock_g, :5]).any(axis=1).all()
    assert (result.tokens[~lock_f, 5:] != start[~lock_f, 5:]).any(axis=1).all()


def test_every_token_locked_returns_at_once_and_says_so(model, image, start, monkeypatch):
    def no_decoding(*_args, **_kw):
        raise AssertionError("decoded although every token is locked")

    monkeypatch.setattr(model, "decode_features", no_decoding)
    everything = np.ones(len(start), bool)
    result = refine(model, image, start, (1, 1), steps=50, locked_geometry=everything, locked_features=everything)
    assert result.stopped == "locked" and "every token is locked" in result.message
    assert result.recon is None and result.steps_done == 0
    assert np.array_equal(result.tokens, start)


def test_cancel_keeps_the_last_improved_state(model, image, start):
    seen = []

    def progress(status):
        seen.append(status)

    result = refine(model, image, start, (1, 1), steps=50, progress=progress, progress_every=1,
                    cancel=lambda: len(seen) >= 3)
    assert result.stopped == "cancelled" and result.steps_done == 2
    assert result.best_step == int(np.argmax(result.psnr_history))
    assert np.array_equal(result.tokens, seen[-1].tokens)
    assert result.psnr == seen[-1].psnr >= result.psnr_before


def test_early_stopping_ends_a_run_without_gains(model, image, start):
    result = refine(model, image, start, (1, 1), steps=40, patience=2, min_gain_db=100.0)
    assert result.stopped == "converged" and result.steps_done == 2


def test_a_decoder_that_cannot_take_gradients_is_a_clear_error(image, start):
    bf16 = load_tokenizer(CKPT, YAML)
    bf16.decoder.to(torch.bfloat16)
    with pytest.raises(GPSTokenError, match="cannot take gradients in bfloat16"):
        refine(bf16, image, start, (1, 1), steps=2)


def test_bad_masks_and_token_shapes_are_one_line_errors(model, image, start):
    with pytest.raises(GPSTokenError, match="locked_geometry must be a bool mask"):
        refine(model, image, start, (1, 1), locked_geometry=np.ones(3, bool))
    with pytest.raises(GPSTokenError, match="tokens must be"):
        refine(model, image, start[:, :6], (1, 1))
    with pytest.raises(GPSTokenError, match="does not fill"):
        refine(model, image, start, (2, 1))


def test_reconstruct_refine_reports_metrics_before_and_after(tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["reconstruct", str(ASTRONAUT), *MODEL, "--tokens", str(TOKENS), "--refine", "3",
                 "--out", str(out), "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    facts = doc["reconstruct"]["refine"]
    assert set(facts["before"]) == set(facts["after"]) == {"psnr", "ssim", "ms_ssim", "haarpsi"}
    assert facts["after"]["psnr"] > facts["before"]["psnr"]
    assert doc["psnr"] == facts["after"]["psnr"] and facts["steps"] == 3
    assert facts["psnr_gain_db"] > 0 and doc["reconstruct"]["mode"] == "merged"


def test_encode_refine_writes_the_refined_tokens(tmp_path, model, image):
    plain, refined = tmp_path / "plain.npz", tmp_path / "refined.npz"
    assert main(["encode", str(ASTRONAUT), *MODEL, "--tokens", str(TOKENS), "--out", str(plain)]) == 0
    assert main(["encode", str(ASTRONAUT), *MODEL, "--init", str(plain), "--refine", "2", "--out", str(refined)]) == 0
    a, b = TokenSet.load(plain), TokenSet.load(refined)
    assert np.array_equal(a.g_init, b.g_init)
    assert psnr_of(model, image, b.tokens[0]) > psnr_of(model, image, a.tokens[0])


@pytest.mark.parametrize("argv, message", [
    (["--refine", "-1"], "--refine must be >= 0"),
    (["--refine", "2", "--mode", "tiles"], "cannot be combined with --mode tiles"),
])
def test_bad_refine_options_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["reconstruct", str(ASTRONAUT), *MODEL, "--out", str(tmp_path / "r.png"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_an_image_smaller_than_the_tile_is_refined_on_its_own_pixels(model, image):
    small = np.ascontiguousarray(image[40:190, 30:230])
    layout, tokens = encode_image(model, small, tokens_per_tile=16)
    result = refine(model, small, tokens[0], layout.tile_grid, steps=2)
    assert result.recon.shape == (3, 150, 200)
    assert result.psnr >= result.psnr_before
