"""gpstoken extract, then gpstoken train texture and layout (new run, resume); samples; DDP on gloo."""
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
    small = ["--steps", "2", "--batch", "2", "--classes", "2"]  # texture: the token count comes from the data
    assert cli("train", "texture", "--data", tmp_path / "tok", "--out", tmp_path / "tex", *small,
               "--sample-every", "2") == 0
    assert [p.name for p in (tmp_path / "tex" / "samples").glob("*.png")] == ["step_00000002.png"]
    tune = ["--steps", "1", "--classes", "2", "--init", tmp_path / "tex" / "model.safetensors"]
    assert cli("train", "texture", "--data", tmp_path / "tok", "--out", tmp_path / "tune", *tune) == 0  # fine-tuning
    assert cli("train", "layout", "--data", data, "--out", tmp_path / "lay", "--examples", "3", *small,
               "--tokens", str(N)) == 0
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


def _layout_data(root):
    for cls, name in (("cats", "chelsea.png"), ("cups", "coffee.png")):
        (root / cls).mkdir(parents=True, exist_ok=True)
        (root / cls / name).write_bytes((GOLDEN / name).read_bytes())
    return root


def _layout_config(data, **changes):
    from gpstoken.generate.config import preset
    from gpstoken.generate.train import GenTrainConfig

    model = preset("layout-tiny").replace(tokens=N, num_classes=2).to_dict()
    return GenTrainConfig(model=model, data=str(data), examples=3, batch=2, **changes)


def test_layout_run_writes_a_sample_png_at_the_configured_step(tmp_path, device):
    from gpstoken.generate.train import GeneratorTrainer
    from gpstoken.io.images import load_image

    cfg = _layout_config(_layout_data(tmp_path / "images"), steps=3, sample_every=2, sample_count=3)
    assert GeneratorTrainer(tmp_path / "run", cfg, device=device).run()["status"] == "finished"
    pngs = sorted(p.name for p in (tmp_path / "run" / "samples").glob("*.png"))
    assert pngs == ["step_00000002.png"]
    tile = cfg.model_config.tile
    picture = load_image(tmp_path / "run" / "samples" / pngs[0])
    assert picture.shape == (tile, 3 * tile, 3) and (picture != 128).any()  # ellipses on the grey canvas


def _ddp_worker(rank, world, port, out, data, weights):
    import os

    from gpstoken.generate.train import GeneratorTrainer

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    trainer = GeneratorTrainer(out, _layout_config(data, steps=3, log_every=1, sample_every=3), device="cpu")
    trainer.run()
    torch.save(trainer.model.state_dict(), weights[rank])


def test_layout_ddp_with_two_gloo_processes_trains_equal_weights_and_writes_once(tmp_path):
    import socket

    import torch.multiprocessing as mp

    from gpstoken.train.state import load_checkpoint

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, out = _layout_data(tmp_path / "images"), tmp_path / "run"
    weights = [str(tmp_path / f"rank{r}.pt") for r in range(2)]
    mp.spawn(_ddp_worker, args=(2, port, str(out), str(data), weights), nprocs=2, join=True)
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert events[0]["world"] == 2 and events[-1]["event"] == "finished"
    assert [e["event"] for e in events].count("checkpoint") == 1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]  # rank 0 logs alone
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 3
    assert [p.name for p in (out / "samples").glob("*.png")] == ["step_00000003.png"]
    a, b = (torch.load(w) for w in weights)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
