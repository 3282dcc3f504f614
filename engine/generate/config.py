"""Generator hyper-parameters: one dataclass for the layout and texture SiT models, official YAML
reading (``configs/gpstoken_generator.yaml`` style), named presets and a JSON round trip."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from ..config_fields import check_fields, dataclass_from_dict, named, read_official_yaml, resolve
from ..errors import CheckpointError

KINDS = ("layout", "texture")
CONDITIONINGS = ("reference", "paper")
# Upper limits on the sizes a config (possibly from a downloaded file's metadata) may ask for.
BOUNDS = {"tokens": (1, 16384), "in_channels": (5, 4096), "hidden_size": (1, 16384), "depth": (1, 256),
          "num_heads": (1, 1024), "mlp_ratio": (1e-3, 64), "num_classes": (1, 1_000_000), "cond_channels": (0, 4096),
          "class_dropout": (0, 1), "cond_noise": (0, 1e3), "stds": (0, 1e12), "means": (-1e12, 1e12),
          "tile": (2, 4096), "min_size": (1, 4096)}

# The official SiT sizes by name (depth, hidden, heads); "-gs" variants use patch size 1 over tokens.
SIT_SIZES = {
    "SiT-XL": (28, 1152, 16),
    "SiT-L": (24, 1024, 16),
    "SiT-B": (12, 768, 12),
    "SiT-S": (12, 384, 6),
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape and data statistics of a generator over token sets of one 256-px tile.

    ``kind="layout"``: a model of ``g_init`` (5 channels, no layout condition); its samples are
    calibrated into a partition. ``kind="texture"``: a model of whole tokens (5 geometry residual
    channels + texture channels) conditioned on ``g_init``. ``means``/``stds`` normalise the model's
    data space per channel (empty: zero mean, unit std). ``conditioning``: "reference" adds the
    condition embedding once at the input (the released code), "paper" adds a condition MLP in
    every block (the paper's text).
    """

    kind: str = "texture"
    tokens: int = 128
    in_channels: int = 21
    hidden_size: int = 1152
    depth: int = 28
    num_heads: int = 16
    mlp_ratio: float = 4.0
    num_classes: int = 1000
    learn_sigma: bool = True
    cond_channels: int = 5
    conditioning: str = "reference"
    class_dropout: float = 0.1
    cond_noise: float = 0.5
    means: tuple[float, ...] = ()
    stds: tuple[float, ...] = ()
    tile: int = 256
    min_size: int = 8
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "means", tuple(float(v) for v in self.means))
        object.__setattr__(self, "stds", tuple(float(v) for v in self.stds))
        self.validate()

    def validate(self) -> None:
        """Raise a one-line CheckpointError if the numbers cannot build a model."""
        check_fields(self, "generator config", CheckpointError, BOUNDS)
        if self.kind not in KINDS:
            raise CheckpointError(f"generator config: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.conditioning not in CONDITIONINGS:
            raise CheckpointError(f"generator config: conditioning must be one of {', '.join(CONDITIONINGS)}, "
                                  f"got {self.conditioning!r}")
        for key in ("tokens", "in_channels", "hidden_size", "depth", "num_heads", "num_classes"):
            if int(getattr(self, key)) < 1:
                raise CheckpointError(f"generator config: {key} must be >= 1, got {getattr(self, key)}")
        if self.hidden_size % self.num_heads:
            raise CheckpointError(f"generator config: hidden_size ({self.hidden_size}) is not divisible "
                                  f"by num_heads ({self.num_heads})")
        if self.in_channels < 5:
            raise CheckpointError(f"generator config: in_channels must be >= 5 (geometry), got {self.in_channels}")
        if self.kind == "texture" and self.cond_channels != 5:
            raise CheckpointError(f"generator config: a texture model needs cond_channels 5, got {self.cond_channels}")
        if self.kind == "layout" and (self.in_channels != 5 or self.cond_channels):
            raise CheckpointError("generator config: a layout model has in_channels 5 and cond_channels 0")
        for key in ("means", "stds"):
            values = getattr(self, key)
            if values and len(values) != self.in_channels:
                raise CheckpointError(f"generator config: {key} has {len(values)} values, "
                                      f"need {self.in_channels} (one per channel)")
        if any(s <= 0 for s in self.stds):
            raise CheckpointError("generator config: stds must be > 0")
        if not 0 <= self.class_dropout < 1 or self.cond_noise < 0:
            raise CheckpointError("generator config: class_dropout must be in [0, 1) and cond_noise >= 0")

    @property
    def texture_channels(self) -> int:
        """Texture channels per token (0 for a layout model)."""
        return self.in_channels - 5

    @property
    def null_class(self) -> int:
        """The label index that means "no class" (classifier-free guidance)."""
        return self.num_classes

    def replace(self, **changes: Any) -> "GeneratorConfig":
        """Copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        d = dataclasses.asdict(self)
        d["means"], d["stds"] = list(self.means), list(self.stds)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GeneratorConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        return dataclass_from_dict(cls, d, "generator config", CheckpointError)


PRESETS: dict[str, GeneratorConfig] = {
    # The released texture model's shape (SiT-XL/2-gs over 128 tokens of M128).
    "texture-xl": GeneratorConfig(name="texture-xl"),
    # The paper's layout model (SiT-S over g_init).
    "layout-s": GeneratorConfig(kind="layout", in_channels=5, cond_channels=0, depth=12, hidden_size=384,
                                num_heads=6, learn_sigma=False, name="layout-s"),
    # Bundled CPU models.
    "layout-tiny": GeneratorConfig(kind="layout", in_channels=5, cond_channels=0, depth=4, hidden_size=96,
                                   num_heads=4, num_classes=1, learn_sigma=False, name="layout-tiny"),
    "texture-tiny": GeneratorConfig(kind="texture", in_channels=21, depth=4, hidden_size=128, num_heads=4,
                                    num_classes=1, learn_sigma=False, name="texture-tiny"),
    # The bundled emoji set: 64 tokens of a 64-px tile (regions down to 4 px), the nine emoji groups.
    "layout-emoji": GeneratorConfig(kind="layout", tokens=64, in_channels=5, cond_channels=0, depth=4,
                                    hidden_size=96, num_heads=4, num_classes=9, learn_sigma=False, tile=64,
                                    min_size=4, name="layout-emoji"),
    "texture-emoji": GeneratorConfig(kind="texture", tokens=64, in_channels=21, depth=4, hidden_size=128,
                                     num_heads=4, num_classes=9, learn_sigma=False, tile=64, min_size=4,
                                     name="texture-emoji"),
}


def preset(name: str) -> GeneratorConfig:
    """A named generator shape: ``texture-xl``, ``layout-s``, ``layout-tiny``, ``texture-tiny``,
    ``layout-emoji``, ``texture-emoji``."""
    return named(PRESETS, name, "generator preset", CheckpointError)


def from_official_yaml(path: str | os.PathLike) -> GeneratorConfig:
    """Read an official generator config (``model``: name, latent_size, num_classes, in_channels, ...;
    ``pretrained_gpstoken_means``/``stds``; ``gpstoken.gpsconfig.gps_c``)."""
    doc, p = read_official_yaml(path)
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict) or "latent_size" not in model or "in_channels" not in model:
        raise CheckpointError(f"{p.name}: needs a generator 'model' section with latent_size and in_channels")
    try:
        return _from_official(doc, model, p.stem)
    except KeyError as exc:
        raise CheckpointError(f"{p.name}: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{p.name}: bad value ({exc})") from None


def _from_official(doc: dict, model: dict, name: str) -> GeneratorConfig:
    in_channels = int(model["in_channels"])
    size = str(model.get("name", "")).split("/")[0]
    if size in SIT_SIZES:
        depth, hidden, heads = SIT_SIZES[size]
    else:
        depth, hidden, heads = int(model["depth"]), int(model["hidden_size"]), int(model["num_heads"])
    if int(model.get("patch_size", 1)) != 1:
        raise CheckpointError(f"{name}: only patch_size 1 over tokens is supported")
    gps_c = ((doc.get("gpstoken") or {}).get("gpsconfig") or {}).get("gps_c")
    cond = int(model.get("cond_channels", in_channels - int(gps_c) if gps_c is not None else 5))
    return GeneratorConfig(
        kind="texture", tokens=int(model["latent_size"]), in_channels=in_channels, hidden_size=hidden,
        depth=depth, num_heads=heads, mlp_ratio=float(model.get("mlp_ratio", 4.0)),
        num_classes=int(model["num_classes"]), learn_sigma=bool(model.get("learn_sigma", True)),
        cond_channels=cond, means=tuple(doc.get("pretrained_gpstoken_means") or ()),
        stds=tuple(doc.get("pretrained_gpstoken_stds") or ()), name=name,
    )


def resolve_config(config: "GeneratorConfig | dict | str | os.PathLike") -> GeneratorConfig:
    """A config from an instance, a dict (ours), a preset name or an official YAML path."""
    return resolve(config, GeneratorConfig, PRESETS, from_official_yaml)
