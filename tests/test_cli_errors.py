"""Every command-line mistake: one line on stderr, exit status 2, and no file created or replaced.

Each case runs ``gpstoken.cli.main`` in-process on a folder of prepared inputs and compares a snapshot of
the folder (names, sizes, contents) before and after; a few run as real processes for the exit code.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from gpstoken.cli import main
from gpstoken.io.safetensors_file import read_safetensors, write_safetensors
from gpstoken.io.tokenfile import TokenSet
from gpstoken.models.default_model import default_model_path
from gpstoken.partition import partition
from gpstoken.train.config import TRAIN_PRESETS
from PIL import Image

ASTRONAUT = Path(__file__).resolve().parents[1] / "assets" / "images" / "astronaut.png"


# --- crafted inputs ----------------------------------------------------------------------------------


def forged_png(path: Path, width: int, height: int) -> Path:
    """A small valid PNG whose IHDR then declares ``width x height`` (CRC fixed): a header that lies."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    path.write_bytes(bytes(data))
    return path


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """The bytes of a .npy header (magic included) declaring ``shape`` of ``dtype``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def token_arrays(features: float = 0.0) -> dict[str, np.ndarray]:
    """The arrays of a token file: the adaptive partition of a 64x64 image, RGB features all ``features``."""
    image = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((64, 64)))
    p = partition(image, 8, tile=64)
    g = p.g_init.reshape(1, 8, 5).astype(np.float32)
    return {"g_init": g, "regions": p.regions_normalized().reshape(1, 8, 4).astype(np.float32),
            "tile_grid": np.array([1, 1]), "image_size": np.array([64, 64]), "tile": np.array(64),
            "features": np.array("rgb"), "tokens": np.concatenate([g, np.full((1, 8, 3), features, np.float32)], -1)}


def forged_npz(path: Path) -> Path:
    """A token file whose ``tokens`` header declares [100000, 100000, 5] float32 (186 GiB) over 16 bytes."""
    arrays = token_arrays()
    del arrays["tokens"]
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("tokens.npy", npy_header((100_000, 100_000, 5)) + bytes(16))
    return path


class Evil:
    """Unpickling this runs ``touch MARKER``: the payload of a crafted training checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """One folder with every input the cases use; the cases must leave it exactly as it is."""
    d = tmp_path_factory.mktemp("inputs")
    Image.open(ASTRONAUT).convert("RGB").resize((64, 64)).save(d / "img.png")
    (d / "images").mkdir()
    Image.open(ASTRONAUT).convert("RGB").resize((32, 32)).save(d / "images" / "a.png")
    (d / "folder").mkdir()
    (d / "existing.txt").write_text("not a folder\n")
    (d / "existing.png").write_bytes((d / "img.png").read_bytes())
    os.mkfifo(d / "fifo.json")
    forged_png(d / "huge.png", 9400, 9400)
    forged_png(d / "bomb.png", 50_000, 50_000)
    (d / "bombs").mkdir()
    Image.open(ASTRONAUT).convert("RGB").resize((32, 32)).save(d / "bombs" / "a.png")
    forged_png(d / "bombs" / "b.png", 9400, 9400)
    np.savez(d / "tokens.npz", **token_arrays())
    TokenSet.load(d / "tokens.npz")  # the valid base the crafted files differ from
    forged_npz(d / "forged.npz")
    np.savez(d / "huge_features.npz", **token_arrays(1e30))
    np.save(d / "nan_layout.npy", np.full((16, 5), np.nan, np.float32))
    np.save(d / "bias_nan.npy", np.full((64, 64), np.nan))
    (d / "forged_bias.npy").write_bytes(npy_header((200_000, 200_000), "<f8") + bytes(64))
    tensors, metadata = read_safetensors(default_model_path())
    first = next(iter(tensors))
    write_safetensors(d / "nan_model.safetensors", {**tensors, first: tensors[first] * float("nan")}, metadata)
    config = json.loads(metadata["gpstoken.config"])
    write_safetensors(d / "huge_config.safetensors", tensors,
                      {**metadata, "gpstoken.config": json.dumps({**config, "gps_num": 10**9, "gpsenc_c": 10**7})})
    for name, text in {"lr_nan.yaml": "preset: micro\ntrain:\n  lr: .nan\n",
                       "ema_nan.yaml": "preset: micro\ntrain:\n  ema_beta: .nan\n",
                       "preset_list.yaml": "preset: [micro, tiny]\n",
                       "train_list.yaml": "preset: micro\ntrain: [1, 2]\n",
                       "steps_text.yaml": "preset: micro\ntrain:\n  steps: many\n"}.items():
        (d / name).write_text(text)
    (d / "binary.lst").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (d / "latin1.lst").write_bytes(b"images/a.png\nimages/\xe9t\xe9.png\n")
    Image.new("RGB", (4, 4)).save(d / "tiny.png")
    (d / "tiny.lst").write_text("images/a.png\ntiny.png\n")
    for name, index in {"no_index": None, "bad_json": "{not json", "no_labels": json.dumps({"files": ["t.npz"],
                        "classes": ["all"]})}.items():
        (d / name).mkdir()
        if index is not None:
            (d / name / "index.json").write_text(index)
    tok_run = d / "tokenizer_run"
    tok_run.mkdir()
    (tok_run / "config.json").write_text(json.dumps(TRAIN_PRESETS["micro"].to_dict()))
    (tok_run / "run.json").write_text(json.dumps({"data": str(d / "images"), "heldout": None}))
    (tok_run / "checkpoints").mkdir()
    torch.save({"step": 1, "model": {}, "payload": Evil(d / "pwned")}, tok_run / "checkpoints" / "latest.pt")
    return d


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder``: kind and, for files, a hash of the contents."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_fifo():
            out[rel] = "fifo"
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    return code, capsys.readouterr().err


# (argv with {d} for the input folder, words the one line must hold, environment)
CASES = {
    "threads 0": (["--threads", "0", "partition", "{d}/img.png", "--tokens", "8", "--json", "-"], "--threads", {}),
    "threads env text": (["partition", "{d}/img.png", "--tokens", "8", "--json", "-"], "GPSTOKEN_THREADS",
                         {"GPSTOKEN_THREADS": "abc"}),
    "threads env 0": (["partition", "{d}/img.png", "--tokens", "8", "--json", "-"], "GPSTOKEN_THREADS",
                      {"GPSTOKEN_THREADS": "0"}),
    "missing argument": (["fit"], "required", {}),
    "unknown option": (["render", "{d}/tokens.npz", "--out", "{d}/new.npy", "--bogus"], "unrecognized", {}),
    "image is a folder": (["partition", "{d}/folder", "--tokens", "8", "--json", "{d}/new.json"], "is a folder", {}),
    "partition json dir": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/folder"], "is a folder", {}),
    "partition json device": (["partition", "{d}/img.png", "--tokens", "8", "--json", "/dev/null"], "device", {}),
    "partition json fifo": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/fifo.json"], "FIFO", {}),
    "overlay dir": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json", "--overlay", "{d}/folder"],
                    "is a folder", {}),
    "overlay suffix": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json", "--overlay",
                        "{d}/o.txt"], "use one of", {}),
    "parent is a file": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/existing.txt/p.json"],
                         "is not a folder", {}),
    "bias bomb": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json", "--bias", "{d}/bomb.png"],
                  "GPSTOKEN_MAX_PIXELS", {}),
    "bias npy header": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json", "--bias",
                         "{d}/forged_bias.npy"], "GPSTOKEN_MAX_ARRAY_MB", {}),
    "bias nan": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json", "--bias", "{d}/bias_nan.npy"],
                 "NaN", {}),
    "pixel limit env": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json"],
                        "over the 1,000 pixel limit", {"GPSTOKEN_MAX_PIXELS": "1000"}),
    "pixel limit env text": (["partition", "{d}/img.png", "--tokens", "8", "--json", "{d}/new.json"],
                             "GPSTOKEN_MAX_PIXELS", {"GPSTOKEN_MAX_PIXELS": "lots"}),
    "render forged npz": (["render", "{d}/forged.npz", "--out", "{d}/new.npy"], "MiB limit", {}),
    "render huge features": (["render", "{d}/huge_features.npz", "--out", "{d}/new.npy"], "beyond", {}),
    "render out dir": (["render", "{d}/tokens.npz", "--out", "{d}/folder"], "is a folder", {}),
    "render out device": (["render", "{d}/tokens.npz", "--out", "/dev/null"], "device", {}),
    "fit tokens-out suffix": (["fit", "{d}/img.png", "--tokens", "8", "--steps", "2", "--out", "{d}/new.png",
                               "--tokens-out", "{d}/t.txt"], ".npz", {}),
    "fit json dir keeps png": (["fit", "{d}/img.png", "--tokens", "8", "--steps", "2", "--out", "{d}/existing.png",
                                "--json", "{d}/folder"], "is a folder", {}),
    "fit out dir": (["fit", "{d}/img.png", "--tokens", "8", "--steps", "2", "--out", "{d}/folder"], "is a folder", {}),
    "fit init forged": (["fit", "{d}/img.png", "--init", "{d}/forged.npz", "--steps", "2", "--out", "{d}/new.png"],
                        "MiB limit", {}),
    "reconstruct out file for folder": (["reconstruct", "{d}/images", "--out", "{d}/existing.txt"],
                                        "not a folder", {}),
    "reconstruct json dir": (["reconstruct", "{d}/img.png", "--out", "{d}/new.png", "--json", "{d}/folder"],
                             "is a folder", {}),
    "reconstruct out dir": (["reconstruct", "{d}/img.png", "--out", "{d}/folder"], "is a folder", {}),
    "reconstruct huge image": (["reconstruct", "{d}/huge.png", "--out", "{d}/new.png"], "GPSTOKEN_MAX_PIXELS", {}),
    "reconstruct folder with huge image": (["reconstruct", "{d}/bombs", "--out", "{d}/new_dir"],
                                           "GPSTOKEN_MAX_PIXELS", {}),
    "reconstruct nan model": (["reconstruct", "{d}/img.png", "--model", "{d}/nan_model.safetensors", "--out",
                               "{d}/new.png"], "NaN", {}),
    "reconstruct huge config": (["reconstruct", "{d}/img.png", "--model", "{d}/huge_config.safetensors", "--out",
                                 "{d}/new.png"], "gps_num must be between", {}),
    "decode forged npz": (["decode", "{d}/forged.npz", "--model", str(default_model_path()), "--out", "{d}/new.png"],
                          "MiB limit", {}),
    "encode init forged": (["encode", "{d}/img.png", "--model", str(default_model_path()), "--init", "{d}/forged.npz",
                            "--out", "{d}/new.npz"], "MiB limit", {}),
    "encode out suffix": (["encode", "{d}/img.png", "--model", str(default_model_path()), "--out", "{d}/new.txt"],
                          ".npz", {}),
    "generate out file": (["generate", "--out", "{d}/existing.txt"], "not a folder", {}),
    "generate nan layout": (["generate", "--out", "{d}/gen", "--layout", "{d}/nan_layout.npy", "--quiet"], "NaN", {}),
    "generate keep forged": (["generate", "--out", "{d}/gen", "--keep", "{d}/forged.npz", "--keep-mask",
                              "{d}/img.png", "--quiet"], "MiB limit", {}),
    "extract out file": (["extract", "--data", "{d}/images", "--out", "{d}/existing.txt"], "not a folder", {}),
    "yaml lr nan": (["train", "tokenizer", "--config", "{d}/lr_nan.yaml", "--data", "{d}/images", "--out", "{d}/run"],
                    "lr", {}),
    "yaml ema_beta nan": (["train", "tokenizer", "--config", "{d}/ema_nan.yaml", "--data", "{d}/images", "--out",
                           "{d}/run"], "ema_beta", {}),
    "yaml preset list": (["train", "tokenizer", "--config", "{d}/preset_list.yaml", "--data", "{d}/images", "--out",
                          "{d}/run"], "preset must be", {}),
    "yaml train list": (["train", "tokenizer", "--config", "{d}/train_list.yaml", "--data", "{d}/images", "--out",
                         "{d}/run"], "train must be", {}),
    "yaml steps text": (["train", "tokenizer", "--config", "{d}/steps_text.yaml", "--data", "{d}/images", "--out",
                         "{d}/run"], "steps must be an integer", {}),
    "binary data list": (["train", "tokenizer", "--config", "micro", "--data", "{d}/binary.lst", "--out", "{d}/run"],
                         "binary file", {}),
    "binary heldout list": (["train", "tokenizer", "--config", "micro", "--data", "{d}/images", "--heldout",
                             "{d}/binary.lst", "--out", "{d}/run"], "binary file", {}),
    "layout list not utf-8": (["train", "layout", "--data", "{d}/latin1.lst", "--out", "{d}/run", "--steps", "1"],
                              "line 2", {}),
    "layout list tiny image": (["train", "layout", "--data", "{d}/tiny.lst", "--out", "{d}/run", "--steps", "1",
                                "--examples", "4"], "tiny.png", {}),
    "texture no index": (["train", "texture", "--data", "{d}/no_index", "--out", "{d}/run", "--steps", "1"],
                         "index.json", {}),
    "texture bad index": (["train", "texture", "--data", "{d}/bad_json", "--out", "{d}/run", "--steps", "1"],
                          "not a readable JSON index", {}),
    "texture index without labels": (["train", "texture", "--data", "{d}/no_labels", "--out", "{d}/run", "--steps",
                                      "1"], "'labels'", {}),
    "layout resume on tokenizer run": (["train", "layout", "--out", "{d}/tokenizer_run", "--resume"],
                                       "tokenizer training run", {}),
    "tokenizer run folder is a file": (["train", "tokenizer", "--config", "micro", "--data", "{d}/images", "--out",
                                        "{d}/existing.txt"], "not a folder", {}),
    "layout run folder is a file": (["train", "layout", "--data", "{d}/images", "--out", "{d}/existing.txt"],
                                    "not a folder", {}),
    "train steps 0": (["train", "tokenizer", "--config", "micro", "--data", "{d}/images", "--out", "{d}/run", "--steps",
                       "0"], "--steps must be >= 1", {}),
    "layout steps 0": (["train", "layout", "--data", "{d}/images", "--out", "{d}/run", "--steps", "0"],
                       "--steps must be >= 1", {}),
    "crafted checkpoint": (["train", "tokenizer", "--out", "{d}/tokenizer_run", "--resume"],
                           "other than tensors and plain data", {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_mistake_is_one_line_with_status_2_and_writes_nothing(name, inputs, capsys, monkeypatch):
    argv, words, env = CASES[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(inputs)
    before = snapshot(inputs)
    code, err = run_in_process([a.format(d=inputs) for a in argv], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.endswith("\n") and "Traceback" not in err, err
    assert words in err, err
    assert snapshot(inputs) == before


def test_a_crafted_checkpoint_runs_nothing_although_it_would(inputs, capsys):
    """The payload is live (plain unpickling runs it); resuming refuses the file and never runs it."""
    marker = inputs / "pwned"
    code, _ = run_in_process(["train", "tokenizer", "--out", str(inputs / "tokenizer_run"), "--resume"], capsys)
    assert code == 2 and not marker.exists()
    torch.load(inputs / "tokenizer_run" / "checkpoints" / "latest.pt", weights_only=False)
    assert marker.exists()
    marker.unlink()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gpstoken.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_real_process_exit_status_and_one_line(inputs):
    for args, env in ((["--threads", "0", "partition", str(inputs / "img.png"), "--tokens", "8", "--json", "-"], {}),
                      (["generate", "--out", str(inputs / "existing.txt")], {}),
                      (["partition", str(inputs / "img.png"), "--tokens", "8", "--json", "-"],
                       {"GPSTOKEN_THREADS": "abc"})):
        done = cli(*args, env=env)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stdout == "", done.stderr


def test_help_and_argument_errors_import_no_torch_numpy_or_pil():
    code = ("import sys, contextlib, io\nimport gpstoken.cli as c\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    c.main(['--help'])\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stderr(io.StringIO()):\n"
            "    c.main(['fit'])\n"
            "print(sorted(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_every_sub_command_has_help_for_every_option():
    from gpstoken.cli import build_parser

    parsers = [build_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                parsers += list(action.choices.values())
            elif action.option_strings and action.dest not in ("help", "seed"):
                assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"


def test_train_help_texts_name_the_options_of_each_kind(capsys):
    for argv in (["train", "layout", "--help"], ["train", "texture", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            main(argv)
    layout, texture, top = capsys.readouterr().out.split("usage: ")[1:]
    assert "--conditioning" not in layout and "--tokens" in layout
    assert "--conditioning" in texture and "--tokens" not in texture
    assert "layout or texture generator" in " ".join(top.split())


def test_an_error_after_a_progress_bar_starts_a_line_of_its_own(tmp_path):
    """On a terminal the bar is cleared before the error line: the last line a terminal shows is the error;
    into a pipe or file no bar is drawn, so stderr is the one error line."""
    import fcntl
    import pty
    import termios

    folder = tmp_path / "images"
    folder.mkdir()
    Image.open(ASTRONAUT).convert("RGB").resize((32, 32)).save(folder / "a.png")
    whole = (folder / "a.png").read_bytes()
    (folder / "b.png").write_bytes(whole[: len(whole) // 2])  # a valid header, truncated pixels
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "gpstoken.cli", "reconstruct", str(folder), "--out",
                             str(tmp_path / "out")], stderr=secondary, stdout=subprocess.DEVNULL)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 2
    text = b"".join(chunks).decode()
    assert "%|" in text  # the bar was drawn
    shown = text.replace("\r\n", "\n").rstrip("\n").split("\n")[-1].split("\r")[-1]
    assert shown.startswith("gpstoken reconstruct: error: b.png"), repr(text[-300:])
    piped = cli("reconstruct", str(folder), "--out", str(tmp_path / "out2"))  # not a terminal: no bar at all
    assert piped.returncode == 2 and piped.stderr.startswith("gpstoken reconstruct: error: b.png")
    assert piped.stderr.count("\n") == 1 and "\r" not in piped.stderr
