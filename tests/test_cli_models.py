"""``gpstoken encode / decode / reconstruct`` on the official-format tiny model: golden values,
metrics reports, folders, odd image sizes, --init layouts, the default model and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gpstoken.cli import main
from gpstoken.io.images import load_image
from gpstoken.io.tokenfile import TokenSet
from gpstoken.metrics import evaluate
from gpstoken.models import default_model, load_tokenizer, save_tokenizer
from gpstoken.models.pipeline import to_uint8
from gpstoken.models.token_files import token_set_from_partition
from gpstoken.partition import partition

GOLDEN = Path(__file__).parent / "golden"
CKPT = GOLDEN / "official_tiny_a.safetensors"
YAML = GOLDEN / "official_tiny_a.yaml"
MODEL = ["--model", str(CKPT), "--config", str(YAML), "--quiet"]
ASTRONAUT = GOLDEN / "astronaut.png"
TOKENS_ATOL = 2e-3
RECON_ATOL = 5e-3
METRIC_KEYS = {"psnr", "ssim", "ms_ssim", "haarpsi"}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def golden() -> dict:
    with np.load(GOLDEN / "official_tiny_a__astronaut.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("encode") / "astronaut.npz"
    assert main(["encode", str(ASTRONAUT), *MODEL, "--out", str(out)]) == 0
    return out


def golden_token_file(path: Path, golden: dict, tokens: np.ndarray | None = None, features: str = "latent") -> Path:
    tokens = golden["tokens"] if tokens is None else tokens
    TokenSet(golden["g_init"], golden["regions"], (1, 1), (256, 256), tokens=tokens, features=features).save(path)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


# --- golden values ---------------------------------------------------------------------------------

def test_encode_writes_the_reference_tokens_and_layout(encoded, golden):
    ts = TokenSet.load(encoded)
    assert ts.features == "latent" and ts.tile_grid == (1, 1) and ts.image_size == (256, 256) and ts.tile == 256
    np.testing.assert_array_equal(ts.g_init, golden["g_init"])
    np.testing.assert_allclose(ts.regions, golden["regions"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(ts.tokens, golden["tokens"], atol=TOKENS_ATOL, rtol=0)


def test_decode_npy_is_the_raw_reference_output_and_png_its_8_bit_image(tmp_path, golden):
    tokens = golden_token_file(tmp_path / "t.npz", golden)
    assert main(["decode", str(tokens), *MODEL, "--out", str(tmp_path / "r.npy")]) == 0
    raw = np.load(tmp_path / "r.npy")
    assert raw.dtype == np.float32 and raw.shape == (3, 256, 256)
    np.testing.assert_allclose(raw, golden["recon"], atol=RECON_ATOL, rtol=0)
    assert raw.min() < -1 or raw.max() > 1  # unclamped (random weights overshoot)
    assert main(["decode", str(tokens), *MODEL, "--out", str(tmp_path / "r.png"), "--mode", "tiles"]) == 0
    assert np.abs(load_image(tmp_path / "r.png").astype(int) - to_uint8(raw)).max() <= 1  # one tile: same output


def test_decode_bf16_stays_close_to_fp32(tmp_path, golden):
    tokens = golden_token_file(tmp_path / "t.npz", golden)
    assert main(["decode", str(tokens), *MODEL, "--precision", "bf16", "--out", str(tmp_path / "r.npy")]) == 0
    assert np.abs(np.load(tmp_path / "r.npy") - golden["recon"]).mean() < 0.05


# --- reconstruct ----------------------------------------------------------------------------------

def test_reconstruct_writes_png_and_json_with_every_metric(tmp_path, golden):
    out, report = tmp_path / "r.png", tmp_path / "m.json"
    assert main(["reconstruct", str(ASTRONAUT), *MODEL, "--out", str(out), "--json", str(report)]) == 0
    recon = load_image(out)
    assert np.abs(recon.astype(int) - to_uint8(golden["recon"])).max() <= 1
    doc = json.loads(report.read_text())
    assert METRIC_KEYS <= set(doc) and not any(k.endswith("_mask") for k in doc)
    expected = evaluate(load_image(ASTRONAUT), recon)
    for key in METRIC_KEYS:
        assert doc[key] == pytest.approx(expected[key], rel=1e-6)
    facts = doc["reconstruct"]
    assert (facts["tokens_per_tile"], facts["tile_grid"], facts["mode"], facts["width"]) == (32, [1, 1], "merged", 256)


def test_mask_adds_metrics_of_the_region(tmp_path):
    mask = np.zeros((256, 256), np.uint8)
    mask[64:160, 96:200] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out, report = tmp_path / "r.png", tmp_path / "m.json"
    assert main(["reconstruct", str(ASTRONAUT), *MODEL, "--out", str(out), "--json", str(report),
                 "--mask", str(tmp_path / "mask.png")]) == 0
    doc = json.loads(report.read_text())
    expected = evaluate(load_image(ASTRONAUT), load_image(out), mask > 127)
    for key in METRIC_KEYS:
        assert doc[f"{key}_mask"] == pytest.approx(expected[f"{key}_mask"], rel=1e-6)
    assert doc["psnr_mask"] != pytest.approx(doc["psnr"])


def test_folder_mode_with_odd_sizes_and_formats(tmp_path):
    """Grey 16-bit and RGBA images whose sides are not multiples of 256: outputs keep the input size."""
    src = tmp_path / "in"
    src.mkdir()
    camera = np.asarray(Image.open(GOLDEN / "camera.png").convert("L"))[:200, :]
    Image.fromarray(camera.astype(np.uint16) * 257).save(src / "grey16.png")
    rgba = np.dstack([load_image(GOLDEN / "chelsea.png")[:, :180], np.full((256, 180), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "cat.png")
    (src / "notes.txt").write_text("not an image")
    report = tmp_path / "m.json"
    assert main(["reconstruct", str(src), *MODEL, "--out", str(tmp_path / "out"), "--json", str(report)]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["cat.png", "grey16.png"]
    assert load_image(tmp_path / "out" / "grey16.png").shape == (200, 256, 3)
    assert load_image(tmp_path / "out" / "cat.png").shape == (256, 180, 3)
    doc = json.loads(report.read_text())
    assert set(doc["images"]) == {"cat.png", "grey16.png"}
    for name, entry in doc["images"].items():
        expected = evaluate(load_image(src / name), load_image(tmp_path / "out" / name))
        assert entry["psnr"] == pytest.approx(expected["psnr"], rel=1e-6)
    for key in METRIC_KEYS:
        assert doc["mean"][key] == pytest.approx(np.mean([e[key] for e in doc["images"].values()]))


# --- layouts from token files ---------------------------------------------------------------------

def test_encode_with_an_init_file_reproduces_the_partitioned_encoding(tmp_path, encoded):
    init = tmp_path / "init.npz"
    token_set_from_partition(partition(load_image(ASTRONAUT), 32)).save(init)
    assert TokenSet.load(init).tokens is None
    out = tmp_path / "t.npz"
    assert main(["encode", str(ASTRONAUT), *MODEL, "--init", str(init), "--out", str(out)]) == 0
    with_init, partitioned = TokenSet.load(out), TokenSet.load(encoded)
    np.testing.assert_array_equal(with_init.g_init, partitioned.g_init)
    np.testing.assert_allclose(with_init.tokens, partitioned.tokens, atol=1e-6, rtol=0)


# --- the default model -----------------------------------------------------------------------------

def test_without_model_the_default_model_is_used(tmp_path, monkeypatch):
    ours = tmp_path / "ours.safetensors"
    save_tokenizer(load_tokenizer(CKPT, YAML), ours)
    monkeypatch.setenv(default_model.MODEL_ENV, str(ours))
    assert main(["reconstruct", str(ASTRONAUT), "--quiet", "--out", str(tmp_path / "a.png")]) == 0
    assert load_image(tmp_path / "a.png").shape == (256, 256, 3)
    monkeypatch.delenv(default_model.MODEL_ENV)
    monkeypatch.setattr(default_model, "BUNDLED_MODEL", ours)
    assert default_model.default_model_path() == ours


def test_missing_default_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(default_model.MODEL_ENV, raising=False)
    monkeypatch.setattr(default_model, "BUNDLED_MODEL", tmp_path / "assets" / "models" / "default.safetensors")
    assert main(["reconstruct", str(ASTRONAUT), "--out", str(tmp_path / "r.png")]) == 2
    assert "no bundled default model" in one_line_error(capsys)


# --- bad input: exit 2 and one line naming the problem ----------------------------------------------

def write_bad_inputs(tmp_path: Path, golden: dict) -> dict[str, Path]:
    data = CKPT.read_bytes()
    files = {"truncated": tmp_path / "truncated.safetensors", "corrupt": tmp_path / "corrupt.safetensors",
             "yaml": tmp_path / "wide.yaml"}
    files["truncated"].write_bytes(data[: len(data) // 2])
    files["corrupt"].write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + bytes(200))
    files["yaml"].write_text(YAML.read_text().replace("gps_c: 8", "gps_c: 16").replace("z_channels: 8", "z_channels: 16"))
    wide = np.concatenate([golden["tokens"], np.zeros_like(golden["tokens"][..., 5:])], axis=-1)
    files["wide_tokens"] = golden_token_file(tmp_path / "wide.npz", golden, wide)
    rgb = np.concatenate([golden["tokens"][..., :5], np.zeros_like(golden["tokens"][..., :3])], axis=-1)
    files["rgb_tokens"] = golden_token_file(tmp_path / "rgb.npz", golden, rgb, features="rgb")
    files["init"] = golden_token_file(tmp_path / "init.npz", golden)
    return files


BAD_INPUTS = {
    "missing checkpoint": (["encode", "{astronaut}", "--model", "{tmp}/nothing.safetensors", "--out", "{tmp}/t.npz"],
                           "no such checkpoint file"),
    "truncated checkpoint": (["encode", "{astronaut}", "--model", "{truncated}", "--config", "{yaml0}",
                              "--out", "{tmp}/t.npz"], "not a readable safetensors file"),
    "corrupt checkpoint": (["decode", "{init}", "--model", "{corrupt}", "--config", "{yaml0}", "--out", "{tmp}/r.png"],
                           "not a readable safetensors file"),
    "yaml that does not fit": (["encode", "{astronaut}", "--model", "{ckpt}", "--config", "{yaml}",
                                "--out", "{tmp}/t.npz"], "does not fit the model"),
    "wrong channel count": (["decode", "{wide_tokens}", "--model", "{ckpt}", "--config", "{yaml0}",
                             "--out", "{tmp}/r.png"], "16 feature channels but this model decodes 8"),
    "image size vs --init": (["encode", "{rocket}", "--model", "{ckpt}", "--config", "{yaml0}", "--init", "{init}",
                              "--out", "{tmp}/t.npz"], "init.npz does not fit rocket512.png"),
    "rgb fit file": (["decode", "{rgb_tokens}", "--model", "{ckpt}", "--config", "{yaml0}", "--out", "{tmp}/r.png"],
                     "fitted RGB colours"),
    "bad output suffix": (["decode", "{init}", "--model", "{ckpt}", "--config", "{yaml0}", "--out", "{tmp}/r.txt"],
                          "cannot write r.txt"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_exit_2_with_one_line(tmp_path, golden, capsys, case):
    files = write_bad_inputs(tmp_path, golden)
    names = {k: str(v) for k, v in files.items()} | {
        "tmp": str(tmp_path), "astronaut": str(ASTRONAUT), "rocket": str(GOLDEN / "rocket512.png"),
        "ckpt": str(CKPT), "yaml0": str(YAML)}
    argv, expected = BAD_INPUTS[case]
    assert main([a.format(**names) for a in argv]) == 2
    assert expected in one_line_error(capsys)
    assert not (tmp_path / "t.npz").exists() and not (tmp_path / "r.png").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_one_line(tmp_path, capsys):
    assert main(["encode", str(ASTRONAUT), *MODEL, "--device", "cuda", "--out", str(tmp_path / "t.npz")]) == 2
    assert "no CUDA device" in one_line_error(capsys)
