"""Model sets (tokenizer + layout + texture + class names) and ``gpstoken generate --models``, on a
32-px micro set: the whole pipeline at a tile size other than 256."""
import json

import numpy as np
import pytest
import torch
from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.generate.model_sets import STAGE_FILES, class_id, load_model_set
from gpstoken.io.images import load_image
from gpstoken.io.tokenfile import TokenSet
from model_set_helpers import CLASSES, TILE, TOKENS, write_micro_set

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model_set(tmp_path_factory):
    return write_micro_set(tmp_path_factory.mktemp("micro_set"))


def test_class_by_name_is_case_insensitive_and_by_index(model_set):
    ms = load_model_set(model_set)
    assert ms.classes == tuple(CLASSES)
    assert ms.class_index("food & drink") == 2
    assert ms.class_index("1") == 1
    assert class_id(" 0 ", None) == 0


def test_unknown_class_lists_the_valid_ones(model_set):
    ms = load_model_set(model_set)
    with pytest.raises(GPSTokenError, match=r"unknown class 'Birds'.*0 'Cats', 1 'Dogs', 2 'Food & Drink'"):
        ms.class_index("Birds")
    with pytest.raises(GPSTokenError, match="unknown class '3'"):
        ms.class_index(3)
    with pytest.raises(GPSTokenError, match="class names need --models"):
        class_id("Cats", None)


def test_a_folder_missing_a_stage_is_one_line(model_set, tmp_path):
    for name in ("tokenizer", "texture"):
        (tmp_path / STAGE_FILES[name]).write_bytes((model_set / STAGE_FILES[name]).read_bytes())
    with pytest.raises(GPSTokenError, match="lacks layout.safetensors"):
        load_model_set(tmp_path)
    with pytest.raises(GPSTokenError, match="not a bundled set"):
        load_model_set(tmp_path / "nowhere")


def test_class_names_default_to_numbers_and_must_match_the_class_count(model_set, tmp_path):
    for name in STAGE_FILES.values():
        (tmp_path / name).write_bytes((model_set / name).read_bytes())
    assert load_model_set(tmp_path).classes == ("class 0", "class 1", "class 2")
    (tmp_path / "classes.json").write_text(json.dumps(["a", "b"]))
    with pytest.raises(GPSTokenError, match="names 2 classes; the texture generator has 3"):
        load_model_set(tmp_path)
    (tmp_path / "classes.json").write_text("{not json")
    with pytest.raises(GPSTokenError, match="not a readable JSON list"):
        load_model_set(tmp_path)


def test_cli_generate_with_a_model_set_and_a_class_name(model_set, tmp_path, capsys):
    out = tmp_path / "gen"
    assert main(["generate", "--models", str(model_set), "--class", "dogs", "--num", "2", "--out", str(out),
                 "--quiet", "--sampler", "euler", "--steps", "3", "--layout-sampler", "euler",
                 "--layout-steps", "3"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images"] == 2
    image = load_image(out / "000001.png")
    assert image.shape == (TILE, TILE, 3)
    ts = TokenSet.load(out / "000001.npz")
    assert ts.tokens.shape == (1, TOKENS, 5 + 4) and ts.tile == TILE
    assert np.isfinite(ts.tokens).all()


@pytest.mark.parametrize("extra, message", [
    (["--class", "Birds"], "unknown class 'Birds' for the micro_set"),
    (["--class", "Cats", "--models", "nowhere_at_all"], "not a bundled set"),
])
def test_cli_bad_class_or_set_is_one_line_with_status_2(model_set, tmp_path, capsys, extra, message):
    args = ["generate", "--models", str(model_set), "--num", "1", "--out", str(tmp_path / "o"), "--quiet", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "000000.png").exists()


def test_a_set_sampling_recipe_is_the_default_and_flags_override_it(model_set, tmp_path):
    from gpstoken.cli import build_parser
    from gpstoken.cli.generate_cmd import generate_options

    for name in STAGE_FILES.values():
        (tmp_path / name).write_bytes((model_set / name).read_bytes())
    (tmp_path / "sampling.json").write_text(json.dumps({"method": "euler", "steps": 7, "cfg_scale": 2.5}))
    ms = load_model_set(tmp_path)
    parse = lambda *extra: build_parser().parse_args(["generate", "--out", "o", *extra])  # noqa: E731
    o = generate_options(parse(), ms)
    assert (o.method, o.steps, o.cfg_scale, o.layout_method, o.guidance_interval) == ("euler", 7, 2.5, "ode", (0.0, 1.0))
    o = generate_options(parse("--cfg", "1", "--steps", "3", "--guidance", "0.2", "0.9"), ms)
    assert (o.method, o.steps, o.cfg_scale, o.guidance_interval) == ("euler", 3, 1.0, (0.2, 0.9))
    o = generate_options(parse(), None)
    assert (o.method, o.cfg_scale) == ("ode", 1.0)


@pytest.mark.parametrize("recipe, message", [
    ("{not json", "not a readable JSON object"),
    ("[1, 2]", "must be a JSON object"),
    ('{"cfg": 3}', "unknown keys \\['cfg'\\]"),
    ('{"method": "euler", "steps": 0}', "steps must be an integer >= 1"),
])
def test_a_bad_sampling_recipe_is_one_line(model_set, tmp_path, recipe, message):
    for name in STAGE_FILES.values():
        (tmp_path / name).write_bytes((model_set / name).read_bytes())
    (tmp_path / "sampling.json").write_text(recipe)
    with pytest.raises(GPSTokenError, match=message):
        load_model_set(tmp_path)


def test_the_bundled_emoji_set_samples_as_its_model_card_evaluated_it():
    ms = load_model_set("emoji")
    assert ms.sampling == {"method": "euler", "steps": 25, "cfg_scale": 3.0, "layout_method": "euler",
                           "layout_steps": 25}
