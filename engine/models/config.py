"""Tokenizer hyper-parameters: one dataclass, official YAML reading, named presets, JSON round trip."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from ..config_fields import check_fields, dataclass_from_dict, named, read_official_yaml, resolve
from ..errors import CheckpointError

DECODE_MODES = ("merged", "tiles")
DECODER_PADDINGS = ("zeros", "replicate")
DECODER_NORMS = ("group", "affine")


# Upper limits on the sizes a config (possibly from a downloaded file's metadata) may ask for: far above
# the official models, far below sizes that would allocate gigabytes before any weight is read.
BOUNDS = {"gps_num": (1, 16384), "gps_c": (1, 4096), "gpsenc_n": (0, 256), "gpsenc_c": (1, 16384),
          "rois": (1, 64), "gps_dmax": (1e-6, 1e6), "gps_adaptive_w": (-1e6, 1e6), "gps_rs": (2, 256),
          "preprocess_channels": (1, 16384), "heads": (1, 1024), "decoder_ch": (1, 16384),
          "decoder_ch_mult": (1, 64), "decoder_num_res_blocks": (0, 64), "z_channels": (1, 4096)}
MAX_TILE = 2048  # pixels a side; the official models use 256


@dataclass(frozen=True)
class TokenizerConfig:
    """Shape of a GPSToken tokenizer; field names follow the official ``gpsconfig``/``decoderconfig``."""

    gps_num: int = 128
    gps_c: int = 16
    gpsenc_n: int = 30
    gpsenc_c: int = 512
    rois: int = 8
    gps_dmax: float = 3.0
    gps_adaptive_w: float = 2.5
    gps_rs: tuple[int, int] = (64, 64)
    preprocess_channels: int = 128
    heads: int = 8
    decoder_ch: int = 128
    decoder_ch_mult: tuple[int, ...] = (1, 2, 4)
    decoder_num_res_blocks: int = 2
    z_channels: int = 16
    mid_attention: bool = True
    # Not in the official configs (they pad with zeros); "replicate" keeps tile corners clean (decoder.py).
    decoder_padding: str = "zeros"
    # Not in the official configs (GroupNorm); "affine" drops the statistics (decoder.py).
    decoder_norm: str = "group"
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gps_rs", tuple(int(v) for v in self.gps_rs))
        object.__setattr__(self, "decoder_ch_mult", tuple(int(v) for v in self.decoder_ch_mult))
        self.validate()

    def validate(self) -> None:
        """Raise a one-line CheckpointError if the numbers cannot build a model."""
        check_fields(self, "config", CheckpointError, BOUNDS)
        if len(self.decoder_ch_mult) > 5:
            raise CheckpointError(f"config: decoder_ch_mult has {len(self.decoder_ch_mult)} levels (at most 5)")
        if self.gps_rs and self.gps_rs[0] * 2 ** (len(self.decoder_ch_mult) - 1) > MAX_TILE:
            raise CheckpointError(f"config: a tile of gps_rs {self.gps_rs[0]} x {2 ** (len(self.decoder_ch_mult) - 1)} "
                                  f"px is over the {MAX_TILE}-px limit")
        positive = ("gps_num", "gps_c", "gpsenc_c", "rois", "preprocess_channels", "heads", "decoder_ch")
        for key in positive:
            if int(getattr(self, key)) < 1:
                raise CheckpointError(f"config: {key} must be >= 1, got {getattr(self, key)}")
        if self.gpsenc_n < 0 or self.decoder_num_res_blocks < 0:
            raise CheckpointError("config: gpsenc_n and num_res_blocks must be >= 0")
        if self.z_channels != self.gps_c:
            raise CheckpointError(f"config: z_channels ({self.z_channels}) must equal gps_c ({self.gps_c})")
        if self.gpsenc_c % self.heads:
            raise CheckpointError(f"config: gpsenc_c ({self.gpsenc_c}) is not divisible by heads ({self.heads})")
        if not self.decoder_ch_mult or min(self.decoder_ch_mult) < 1:
            raise CheckpointError(f"config: bad ch_mult {list(self.decoder_ch_mult)}")
        widths = [self.preprocess_channels] + [self.decoder_ch * m for m in self.decoder_ch_mult]
        if any(w % 32 for w in widths):
            raise CheckpointError(f"config: channel widths {widths} must be multiples of 32 (GroupNorm 32)")
        if len(self.gps_rs) != 2 or self.gps_rs[0] != self.gps_rs[1] or self.gps_rs[0] < 2:
            raise CheckpointError(f"config: gps_rs must be a square grid of at least 2x2, got {list(self.gps_rs)}")
        for key, allowed in (("decoder_padding", DECODER_PADDINGS), ("decoder_norm", DECODER_NORMS)):
            if getattr(self, key) not in allowed:
                raise CheckpointError(f"config: {key} must be one of {', '.join(allowed)}, "
                                      f"got {getattr(self, key)!r}")
        if self.gps_dmax <= 0:
            raise CheckpointError(f"config: gps_dmax must be > 0, got {self.gps_dmax}")

    @property
    def upsampling(self) -> int:
        """Decoder upsampling factor from the feature grid to pixels."""
        return 2 ** (len(self.decoder_ch_mult) - 1)

    @property
    def tile_size(self) -> int:
        """Side in pixels of one tile (256 for the official models)."""
        return self.gps_rs[0] * self.upsampling

    @property
    def token_dim(self) -> int:
        return 5 + self.gps_c

    @property
    def default_decode_mode(self) -> str:
        """The reference's rule: models with 256 or more tokens per tile decode tile by tile."""
        return "tiles" if self.gps_num >= 256 else "merged"

    def replace(self, **changes: Any) -> "TokenizerConfig":
        """Copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (lists for tuples)."""
        d = dataclasses.asdict(self)
        d["gps_rs"] = list(self.gps_rs)
        d["decoder_ch_mult"] = list(self.decoder_ch_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TokenizerConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        return dataclass_from_dict(cls, d, "config", CheckpointError)


_OFFICIAL = dict(gpsenc_n=30, gpsenc_c=512, rois=8, gps_dmax=3.0, gps_adaptive_w=2.5, gps_rs=(64, 64),
                 preprocess_channels=128, heads=8, decoder_ch=128, decoder_ch_mult=(1, 2, 4),
                 decoder_num_res_blocks=2, mid_attention=True)

PRESETS: dict[str, TokenizerConfig] = {
    "s64": TokenizerConfig(gps_num=64, gps_c=16, z_channels=16, name="s64", **_OFFICIAL),
    "m128": TokenizerConfig(gps_num=128, gps_c=16, z_channels=16, name="m128", **_OFFICIAL),
    "l256": TokenizerConfig(gps_num=256, gps_c=32, z_channels=32, name="l256", **_OFFICIAL),
    # The bundled CPU model: heavy convolutions stay at the 64x64 latent, no latent attention, no
    # decoder statistics.
    "tiny": TokenizerConfig(
        gps_num=128, gps_c=16, z_channels=16, gpsenc_n=8, gpsenc_c=128, heads=4, rois=8,
        preprocess_channels=32, decoder_ch=32, decoder_ch_mult=(1, 1, 2), decoder_num_res_blocks=0,
        mid_attention=False, decoder_padding="replicate", decoder_norm="affine", name="tiny",
    ),
    # The bundled emoji model: 64-px tiles (a 32x32 render grid, one upsampling), 64 tokens per tile.
    "emoji": TokenizerConfig(
        gps_num=64, gps_c=16, z_channels=16, gpsenc_n=4, gpsenc_c=128, heads=4, rois=8, gps_rs=(32, 32),
        preprocess_channels=32, decoder_ch=32, decoder_ch_mult=(1, 1), decoder_num_res_blocks=0,
        mid_attention=False, decoder_padding="replicate", name="emoji",
    ),
}


def preset(name: str) -> TokenizerConfig:
    """The named preset: ``s64``, ``m128``, ``l256`` (official sizes), ``tiny`` or ``emoji`` (bundled CPU models)."""
    return named(PRESETS, name, "model preset", CheckpointError)


def from_official_yaml(path: str | os.PathLike) -> TokenizerConfig:
    """Read an official config file (``model.gpsconfig`` and ``model.decoderconfig``)."""
    doc, p = read_official_yaml(path)
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("gpsconfig"), dict) \
            or not isinstance(model.get("decoderconfig"), dict):
        raise CheckpointError(f"{p.name}: needs model.gpsconfig and model.decoderconfig")
    return from_official_dicts(model["gpsconfig"], model["decoderconfig"], name=p.stem)


def from_official_dicts(gps: dict[str, Any], dec: dict[str, Any], name: str = "official") -> TokenizerConfig:
    """Build a config from the official ``gpsconfig`` and ``decoderconfig`` dicts."""
    try:
        if list(dec.get("attn_resolutions") or []):
            raise CheckpointError("config: decoder attn_resolutions other than [] are not supported")
        if int(dec.get("out_ch", 3)) != 3:
            raise CheckpointError("config: decoder out_ch must be 3")
        return TokenizerConfig(
            gps_num=int(gps["gps_num"]), gps_c=int(gps["gps_c"]), gpsenc_n=int(gps["gpsenc_n"]),
            gpsenc_c=int(gps["gpsenc_c"]), rois=int(gps["rois"]), gps_dmax=float(gps["gps_dmax"]),
            gps_adaptive_w=float(gps.get("gps_adaptive_w", 2.5)), gps_rs=tuple(gps.get("gps_rs", (64, 64))),
            preprocess_channels=int(gps.get("preprocess_channels", 128)), heads=int(gps.get("heads", 8)),
            decoder_ch=int(dec["ch"]), decoder_ch_mult=tuple(dec["ch_mult"]),
            decoder_num_res_blocks=int(dec["num_res_blocks"]), z_channels=int(dec["z_channels"]),
            mid_attention=True, name=name,
        )
    except KeyError as exc:
        raise CheckpointError(f"config: missing key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"config: bad value ({exc})") from None


def resolve_config(config: "TokenizerConfig | dict | str | os.PathLike") -> TokenizerConfig:
    """A config from an instance, a dict (ours), a preset name or an official YAML path."""
    return resolve(config, TokenizerConfig, PRESETS, from_official_yaml)
