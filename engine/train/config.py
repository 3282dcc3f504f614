"""Training settings: one dataclass, named presets, YAML/JSON reading and the train-time model shape.

A training config names a model (a tokenizer preset, a TokenizerConfig dict or an official YAML) and
the optimisation settings. A YAML file holds ``model:`` (preset name or dict) and ``train:`` (fields
of :class:`TrainConfig`); ``preset:`` names a training preset whose values the file overrides.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config_fields import check_fields, dataclass_from_dict
from ..errors import GPSTokenError
from ..models.config import PRESETS as MODEL_PRESETS
from ..models.config import TokenizerConfig, resolve_config

INITS = ("adaptive", "grid")
PRECISIONS = ("auto", "fp32", "bf16")
BOUNDS = {"betas": (0, 0.999999), "grad_clip": (0, math.inf), "lam": (0, 1e3), "min_size": (1, 4096),
          "perceptual_weight": (0, 1e6), "disc_start": (0, math.inf), "disc_weight": (0, 1e6), "ema_beta": (0, 1),
          "ema_update_after": (0, math.inf), "ema_power": (1e-6, 1e3), "crop": (0, 4096), "resize": (1, 16384),
          "eval_images": (0, 100_000), "sample_images": (0, 1000), "seed": (0, 2**63 - 1),
          "flat_weight": (0, 1e3)}


@dataclass(frozen=True)
class TrainConfig:
    """Tokenizer training settings (defaults: the reference's recipe, facts §7)."""

    model: dict[str, Any] = field(default_factory=lambda: MODEL_PRESETS["m128"].to_dict())
    steps: int = 1_000_000
    batch: int = 16
    lr: float = 5e-5
    betas: tuple[float, float] = (0.5, 0.9)
    grad_clip: float = 0.0  # 0: off (the reference does not clip)
    resize: int = 256  # shortest side before cropping
    crop: int = 0  # 0: the model's tile size; smaller crops train with proportionally fewer tokens
    random_crop: bool = True
    flip: bool = True
    init: str = "adaptive"
    lam: float = 2.5
    min_size: int = 8
    perceptual_weight: float = 1.0  # LPIPS, only when its weights are on disk
    flat_weight: float = 0.0  # > 0: each step also decodes a flat 2x2-tile plane and penalises its detail (flat_plane.py)
    disc_start: int = 600_000
    disc_weight: float = 0.3
    ema_beta: float = 0.9999
    ema_update_every: int = 10
    ema_update_after: int = 100
    ema_power: float = 2 / 3
    seed: int = 23
    precision: str = "auto"  # bf16 autocast on CUDA
    log_every: int = 10
    eval_every: int = 1000
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep_every: int = 50_000  # also keep a numbered checkpoint at these steps
    eval_images: int = 8  # first images of the held-out list used for PSNR/SSIM
    sample_images: int = 4
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "model", resolve_config(self.model).to_dict())
        self.validate()

    def validate(self) -> None:
        """Raise a one-line GPSTokenError for settings that cannot train."""
        check_fields(self, "train config", GPSTokenError, BOUNDS)
        for key in ("steps", "batch", "resize", "log_every", "eval_every", "sample_every", "ckpt_every",
                    "keep_every", "ema_update_every"):
            if int(getattr(self, key)) < 1:
                raise GPSTokenError(f"train config: {key} must be >= 1, got {getattr(self, key)}")
        if self.lr <= 0 or self.ema_beta >= 1:
            raise GPSTokenError(f"train config: lr must be > 0 and ema_beta < 1, got {self.lr} and {self.ema_beta}")
        if self.init not in INITS:
            raise GPSTokenError(f"train config: init must be one of {', '.join(INITS)}, got {self.init!r}")
        if self.precision not in PRECISIONS:
            raise GPSTokenError(f"train config: precision must be one of {', '.join(PRECISIONS)}")
        tile, up = self.model_config.tile_size, self.model_config.upsampling
        crop = self.crop_size
        if crop > tile or crop % up or crop < 2 * up:
            raise GPSTokenError(f"train config: crop {crop} must be a multiple of {up} and at most the tile size "
                                f"{tile}")
        if self.resize < crop:
            raise GPSTokenError(f"train config: resize ({self.resize}) must be >= crop ({crop})")

    @property
    def model_config(self) -> TokenizerConfig:
        """The model being trained, at inference shape (what gets exported)."""
        return TokenizerConfig.from_dict(self.model)

    @property
    def crop_size(self) -> int:
        return self.crop or self.model_config.tile_size

    def train_model_config(self) -> TokenizerConfig:
        """The same weights at training shape: a crop of side c renders on a grid of c/u cells with
        N*(c/tile)^2 tokens, so tokens per pixel and pixels per feature cell match inference."""
        cfg = self.model_config
        crop = self.crop_size
        if crop == cfg.tile_size:
            return cfg
        n = max(1, round(cfg.gps_num * (crop / cfg.tile_size) ** 2))
        return cfg.replace(gps_rs=(crop // cfg.upsampling,) * 2, gps_num=n)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        return dataclass_from_dict(cls, d, "train config", GPSTokenError)

    def differences(self, other: "TrainConfig", ignore: tuple[str, ...] = ("steps", "name")) -> list[str]:
        """Names of the fields whose values differ (``ignore`` excepted)."""
        a, b = self.to_dict(), other.to_dict()
        return [k for k in a if k not in ignore and a[k] != b[k]]


_MICRO_MODEL = TokenizerConfig(
    gps_num=16, gps_c=4, z_channels=4, gpsenc_n=1, gpsenc_c=32, heads=2, rois=2, gps_rs=(16, 16),
    preprocess_channels=32, decoder_ch=32, decoder_ch_mult=(1, 1), decoder_num_res_blocks=0,
    mid_attention=False, name="micro",
)

TRAIN_PRESETS: dict[str, TrainConfig] = {
    **{name: TrainConfig(model=cfg.to_dict(), name=name) for name, cfg in MODEL_PRESETS.items()
       if name not in ("tiny", "emoji")},
    # The bundled CPU model: 128-px crops (4x cheaper than full tiles), a larger lr for the short run,
    # and an EMA that starts early enough to matter within a few thousand steps.
    "tiny": TrainConfig(model=MODEL_PRESETS["tiny"].to_dict(), batch=4, lr=2e-4, crop=128, steps=3000,
                        ema_beta=0.999, ema_update_every=1, ema_update_after=100, eval_every=250,
                        sample_every=500, ckpt_every=100, keep_every=1000, log_every=10, eval_images=6,
                        name="tiny"),
    # The bundled emoji model: 32-px crops of the 64-px emoji (gpstoken.train.emoji_data), regions down to 4 px.
    "emoji": TrainConfig(model=MODEL_PRESETS["emoji"].to_dict(), batch=8, lr=3e-4, resize=64, crop=32, min_size=4,
                         steps=8000, ema_beta=0.999, ema_update_every=1, ema_update_after=100, eval_every=500,
                         sample_every=500, ckpt_every=100, keep_every=1000, log_every=10, eval_images=200,
                         sample_images=4, name="emoji"),
    # For tests: a 32-px model that takes milliseconds per step.
    "micro": TrainConfig(model=_MICRO_MODEL.to_dict(), batch=2, lr=1e-3, resize=40, steps=4, min_size=4,
                         ema_beta=0.9, ema_update_every=1, ema_update_after=1, log_every=1, eval_every=2,
                         sample_every=2, ckpt_every=2, keep_every=2, eval_images=2, sample_images=2,
                         name="micro"),
}


def load_train_config(spec: str | os.PathLike) -> TrainConfig:
    """A training preset name, our ``config.json`` (resolved config) or a YAML with model/train sections."""
    import yaml

    if isinstance(spec, str) and spec in TRAIN_PRESETS:
        return TRAIN_PRESETS[spec]
    p = Path(spec)
    if not p.is_file():
        raise GPSTokenError(f"unknown training config {str(spec)!r}: not a preset "
                            f"({', '.join(TRAIN_PRESETS)}) nor a file")
    try:
        doc = json.loads(p.read_text()) if p.suffix == ".json" else yaml.safe_load(p.read_text())
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise GPSTokenError(f"{p.name}: not a readable config file ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise GPSTokenError(f"{p.name}: the config must be a mapping")
    if doc.get("preset") is not None and not isinstance(doc["preset"], str):
        raise GPSTokenError(f"{p.name}: preset must be a name ({', '.join(TRAIN_PRESETS)}), got {doc['preset']!r}")
    if not isinstance(doc.get("train") or {}, dict):
        raise GPSTokenError(f"{p.name}: train must be a mapping of training settings, got {doc['train']!r}")
    if not isinstance(doc.get("model", ""), (str, dict)):
        raise GPSTokenError(f"{p.name}: model must be a preset name, a file name or a mapping, got {doc['model']!r}")
    if not isinstance(doc.get("name", ""), str):
        raise GPSTokenError(f"{p.name}: name must be a string, got {doc['name']!r}")
    if "train" not in doc and "preset" not in doc:
        if "model" in doc and "gpsconfig" in (doc.get("model") or {}):
            return TrainConfig(model=resolve_config(p).to_dict(), name=p.stem)  # an official model YAML
        if "steps" in doc:  # a run's config.json: every field
            return TrainConfig.from_dict(doc)
    base = TRAIN_PRESETS[doc["preset"]].to_dict() if doc.get("preset") in TRAIN_PRESETS else TrainConfig().to_dict()
    if doc.get("preset") is not None and doc["preset"] not in TRAIN_PRESETS:
        raise GPSTokenError(f"{p.name}: unknown preset {doc['preset']!r}")
    if "model" in doc:
        model = doc["model"]
        base["model"] = resolve_config(model if not isinstance(model, str) or model in MODEL_PRESETS
                                       else str(p.parent / model)).to_dict()
    base.update(doc.get("train") or {})
    base["name"] = doc.get("name", p.stem)
    return TrainConfig.from_dict(base)
