"""gpstoken extract, then gpstoken train texture and layout (new run, resume) on the result."""
import json
from pathlib import Path

import torch

from gpstoken.cli import main
from gpstoken.generate import load_generator
from gpstoken.io.tokenfile import TokenSet

GOLDEN = Path(__file__).parent / "golden"
TOKENIZER, TOKENIZER_YAML = GOLDEN / "official_tiny_a.safetensors", GOLDEN / "official_tiny_a.yaml"
N, C = 32, 8

torch.set_num_threads(1)


def cli(*args):
    return main(["--threads", "1", *map(str, args)])


def test_cli_extract_and_train_both_generators(tmp_path, capsys):
    data = tmp_path / "images"
    for cls, name in (("cats", "chelsea.png"), ("cups", "coffee.png")):
        (data / cls).mkdir(parents=True, exist_ok=True)
        (data / cls / name).write_bytes((GOLDEN / name).read_bytes())
    assert cli("extract", "--model", TOKENIZER, "--config", TOKENIZER_YAML, "--data", data,
               "--out", tmp_path / "tok", "--quiet") == 0
    index = json.loads((tmp_path / "tok" / "index.json").read_text())
    assert index["classes"] == ["cats", "cups"] and index["labels"] == [0, 1]
    assert TokenSet.load(tmp_path / "tok" / index["files"][0]).tokens.shape == (1, N, 5 + C)
    small = ["--steps", "2", "--batch", "2", "--tokens", str(N), "--classes", "2"]
    assert cli("train", "texture", "--data", tmp_path / "tok", "--out", tmp_path / "tex", *small) == 0
    tune = ["--steps", "1", "--classes", "2", "--init", tmp_path / "tex" / "model.safetensors"]
    assert cli("train", "texture", "--data", tmp_path / "tok", "--out", tmp_path / "tune", *tune) == 0  # fine-tuning
    assert cli("train", "layout", "--data", data, "--out", tmp_path / "lay", "--examples", "3", *small) == 0
    assert cli("train", "layout", "--out", tmp_path / "lay", "--resume", "--steps", "3") == 0
    rows = [json.loads(line) for line in (tmp_path / "lay" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 3]
    tex = load_generator(tmp_path / "tex" / "model.safetensors")
    lay = load_generator(tmp_path / "lay" / "model.safetensors")
    assert tex.config.in_channels == 5 + C and len(tex.config.means) == 5 + C and tex.config.num_classes == 2
    assert lay.config.kind == "layout" and lay.config.tokens == N and lay.config.stds[2] == 1.0  # rho is constant
    capsys.readouterr()
    wrong = ["--out", tmp_path / "tex2", "--preset", "layout-tiny"]
    assert cli("train", "texture", "--data", tmp_path / "tok", *wrong) == 2
    assert "is a layout model" in capsys.readouterr().err
