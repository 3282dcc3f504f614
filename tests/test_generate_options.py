"""GenerateOptions and SamplerOptions: defaults, one-line validation, keyword overrides, the command line's use."""
import dataclasses

import pytest

from gpstoken.cli import main
from gpstoken.config_fields import with_overrides
from gpstoken.errors import GPSTokenError
from gpstoken.generate import LAYOUT_SAMPLING, TEXTURE_SAMPLING, GenerateOptions, SamplerOptions


def test_defaults_are_the_reference_stages():
    opts = GenerateOptions()
    assert opts.texture_sampling == TEXTURE_SAMPLING == SamplerOptions("sde", 250, 1.0, (0.0, 1.0))
    assert opts.layout_sampling == LAYOUT_SAMPLING == SamplerOptions("ode", 50, 1.0, (0.0, 1.0))
    assert (opts.seed, opts.decode) == (0, True)


def test_both_stages_share_the_guidance():
    opts = GenerateOptions(method="euler", steps=12, cfg_scale=2.5, guidance_interval=[0.25, 0.75],
                           layout_method="heun", layout_steps=7)
    assert opts.guidance_interval == (0.25, 0.75)
    assert opts.texture_sampling == SamplerOptions("euler", 12, 2.5, (0.25, 0.75))
    assert opts.layout_sampling == SamplerOptions("heun", 7, 2.5, (0.25, 0.75))


@pytest.mark.parametrize("fields, message", [
    (dict(method="rk4"), "sampler must be one of ode, sde, euler, heun, got 'rk4'"),
    (dict(steps=0), "steps must be an integer >= 2 for the sde sampler, got 0"),
    (dict(method="euler", steps=0), "steps must be an integer >= 1 for the euler sampler, got 0"),
    (dict(steps=2.5), "steps must be an integer"),
    (dict(layout_method="dopri"), "layout_sampler must be one of"),
    (dict(layout_steps=True), "layout_steps must be an integer >= 1 for the ode sampler, got True"),
    (dict(cfg_scale=float("nan")), "cfg_scale must be a finite number, got nan"),
    (dict(guidance_interval=(0.8, 0.2)), "guidance_interval must be finite .* 0 <= low <= high <= 1"),
    (dict(guidance_interval=(0.0, 1.0, 2.0)), "guidance_interval must be two numbers"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(decode="yes"), "decode must be true or false"),
])
def test_bad_options_are_one_line_errors(fields, message):
    with pytest.raises(GPSTokenError, match=message) as err:
        GenerateOptions(**fields)
    assert "\n" not in str(err.value)


def test_keyword_overrides_follow_the_fit_pattern():
    base = GenerateOptions(steps=30)
    assert with_overrides(base, GenerateOptions, {"seed": 4}, "generate") == dataclasses.replace(base, seed=4)
    assert with_overrides(None, GenerateOptions, {}, "generate") == GenerateOptions()
    with pytest.raises(TypeError, match=r"generate\(\) got unexpected keyword arguments: \['sampler'\]"):
        with_overrides(base, GenerateOptions, {"sampler": "ode"}, "generate")
    with pytest.raises(GPSTokenError, match="steps must be an integer >= 2 for the sde sampler, got 1"):
        with_overrides(base, GenerateOptions, {"steps": 1}, "generate")
    assert with_overrides(TEXTURE_SAMPLING, SamplerOptions, {"steps": 8}, "sample_tokens").steps == 8


@pytest.mark.parametrize("flags, message", [
    (["--steps", "0", "--sampler", "euler"], "steps must be an integer >= 1 for the euler sampler, got 0"),
    (["--layout-steps", "0", "--layout-sampler", "heun"], "layout_steps must be an integer >= 1"),
    (["--cfg", "inf"], "cfg_scale must be a finite number"),
    (["--guidance", "0.9", "0.1"], "guidance_interval must be finite"),
])
def test_the_command_line_checks_its_options_before_loading_models(tmp_path, capsys, flags, message):
    assert main(["generate", "--out", str(tmp_path / "out"), "--model", str(tmp_path / "missing.safetensors"),
                 *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
