"""Checkpoint loading and saving: official files (plain, ema_model., module. prefixes), ours, and errors."""
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gpstoken.errors import CheckpointError
from gpstoken.models import GPSTokenizer, load_tokenizer, save_tokenizer
from gpstoken.models.config import from_official_yaml

GOLDEN = Path(__file__).parent / "golden"
OFFICIAL = GOLDEN / "official_tiny_a.safetensors"
YAML = GOLDEN / "official_tiny_a.yaml"


@pytest.fixture(scope="module")
def official_state():
    return load_file(str(OFFICIAL))


def assert_same_weights(model: GPSTokenizer, state: dict) -> None:
    ours = model.official_state_dict()
    assert set(ours) == set(state)
    for k, v in state.items():
        assert torch.equal(ours[k], v), k


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    return msg


def test_official_file_with_its_yaml_loads_strictly(official_state):
    model = load_tokenizer(OFFICIAL, config=YAML)
    assert_same_weights(model, official_state)
    assert not model.training
    assert len(official_state) == len(model.official_state_dict())


@pytest.mark.parametrize("prefix", ["ema_model.", "module."])
def test_prefixed_copies_load(tmp_path, official_state, prefix):
    state = {prefix + k: v for k, v in official_state.items()}
    if prefix == "ema_model.":  # the EMA wrapper also stores the online model and counters
        state.update({"online_model." + k: torch.zeros_like(v) for k, v in official_state.items()})
        state["initted"] = torch.tensor(True)
        state["step"] = torch.tensor(1000)
    path = tmp_path / "prefixed.safetensors"
    save_file(state, str(path))
    assert_same_weights(load_tokenizer(path, config=YAML), official_state)


def test_own_checkpoint_round_trip_needs_no_config(tmp_path, official_state):
    model = load_tokenizer(OFFICIAL, config=YAML)
    path = tmp_path / "sub" / "ours.safetensors"
    save_tokenizer(model, path)
    again = load_tokenizer(path)
    assert again.config == model.config
    assert_same_weights(again, official_state)
    assert sorted(p.name for p in path.parent.iterdir()) == ["ours.safetensors"]  # no temp file left
    # Our files use the reference's key names, so the official loader (plain keys) reads them too.
    assert set(load_file(str(path))) == set(official_state)


def test_official_file_without_config_is_a_clear_error():
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(OFFICIAL)
    assert "config" in one_line(exc)


def test_missing_key(tmp_path, official_state):
    state = dict(official_state)
    del state["attnblocks.1.roimlp.weight"]
    path = tmp_path / "missing.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(path, config=YAML)
    assert "missing key 'attnblocks.1.roimlp.weight' [1,64]" in one_line(exc)


def test_unexpected_key(tmp_path, official_state):
    state = dict(official_state)
    state["attnblocks.2.roimlp.weight"] = torch.zeros(1, 64)
    path = tmp_path / "extra.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(path, config=YAML)
    assert "unexpected key 'attnblocks.2.roimlp.weight'" in one_line(exc)


def test_wrong_shape_names_both_shapes(tmp_path, official_state):
    state = dict(official_state)
    state["to_gps.1.weight"] = torch.zeros(16, 64)
    path = tmp_path / "shape.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(path, config=YAML)
    msg = one_line(exc)
    assert "'to_gps.1.weight'" in msg and "[16,64]" in msg and "[8,64]" in msg


@pytest.mark.parametrize("preset_name", ["m128", "l256", "tiny"])
def test_config_that_does_not_fit_the_weights(preset_name):
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(OFFICIAL, config=preset_name)
    assert "does not fit" in one_line(exc)


def test_missing_truncated_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(tmp_path / "nope.safetensors", config=YAML)
    assert "no such checkpoint" in one_line(exc)
    data = OFFICIAL.read_bytes()
    for name, blob in [("truncated", data[: len(data) // 2]), ("header", data[:5]),
                       ("garbage", b"\x00" * 64 + data[64:]), ("empty", b"")]:
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(blob)
        with pytest.raises(CheckpointError) as exc:
            load_tokenizer(path, config=YAML)
        assert "not a readable safetensors file" in one_line(exc), name


def test_bad_metadata_config(tmp_path, official_state):
    path = tmp_path / "meta.safetensors"
    save_file(official_state, str(path), metadata={"gpstoken.config": "{not json"})
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(path)
    one_line(exc)
    save_file(official_state, str(path), metadata={"gpstoken.config": '{"gps_num": 32, "colour": 1}'})
    with pytest.raises(CheckpointError) as exc:
        load_tokenizer(path)
    assert "colour" in one_line(exc)


def test_save_replaces_atomically_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    cfg = from_official_yaml(YAML)
    model = GPSTokenizer(cfg)
    path = tmp_path / "m.safetensors"
    save_tokenizer(model, path)
    before = path.read_bytes()
    import safetensors.torch

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError):
        save_tokenizer(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
