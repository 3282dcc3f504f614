"""Config values are checked where they enter: right type, finite, within documented bounds, key named."""
from __future__ import annotations

import pytest
from gpstoken.errors import GPSTokenError
from gpstoken.generate.config import preset as generator_preset
from gpstoken.generate.train import GenTrainConfig
from gpstoken.models.config import TokenizerConfig
from gpstoken.train.config import TRAIN_PRESETS, TrainConfig

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("key, value, words", [
    ("lr", NAN, "lr must be a finite number"), ("ema_beta", NAN, "ema_beta must be a finite number"),
    ("ema_beta", 1.0, "ema_beta < 1"), ("betas", (0.5, INF), "betas must be finite numbers"),
    ("steps", "3", "steps must be an integer"), ("flip", "yes", "flip must be true or false"),
    ("disc_weight", -1.0, "disc_weight must be between"),
])
def test_train_config_values_are_refused_with_the_key_named(key, value, words):
    with pytest.raises(GPSTokenError, match=words):
        TrainConfig.from_dict({**TRAIN_PRESETS["micro"].to_dict(), key: value})


@pytest.mark.parametrize("changes, words", [
    ({"gps_num": 10**9}, "gps_num must be between"), ({"gps_rs": [100_000, 100_000]}, "gps_rs must be between"),
    ({"gps_rs": [256, 256], "decoder_ch_mult": [1, 1, 1, 1, 1]}, "2048-px limit"),
    ({"gps_dmax": NAN}, "gps_dmax must be a finite number"), ({"decoder_ch_mult": [1] * 12}, "at most 5"),
])
def test_tokenizer_config_sizes_are_bounded_before_a_model_is_built(changes, words):
    with pytest.raises(GPSTokenError, match=words):
        TokenizerConfig.from_dict({**TokenizerConfig().to_dict(), **changes})


@pytest.mark.parametrize("changes, words", [({"tokens": 10**9}, "tokens must be between"),
                                            ({"mlp_ratio": NAN}, "mlp_ratio must be a finite number")])
def test_generator_config_sizes_are_bounded(changes, words):
    with pytest.raises(GPSTokenError, match=words):
        generator_preset("layout-tiny").replace(**changes)


def test_generator_training_config_refuses_a_nan_ema_beta():
    with pytest.raises(GPSTokenError, match="ema_beta"):
        GenTrainConfig(ema_beta=NAN)
