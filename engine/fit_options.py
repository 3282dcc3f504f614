"""The knobs of a per-image fit (:class:`FitOptions`), importable without torch (the CLI's help shows them)."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .errors import GPSTokenError

FREEZE_MODES = ("none", "geometry", "features")


@dataclass(frozen=True)
class FitOptions:
    """Knobs of one fit; every field can also be passed to :func:`fit` as a keyword."""

    steps: int = 200
    lr_geometry: float = 0.06
    lr_features: float = 0.02
    support: float = 3.0
    freeze: str = "none"  # "none" | "geometry" | "features"
    tile: int = 256  # see gpstoken.fit_init; 0 fits any image as one tile
    lam: float = 2.5  # adaptive layout: entropy exponent
    min_size: int | None = None  # adaptive layout: smallest region side (None: fit_init.auto_min_size)
    start_sigma_scale: float = 1.5  # a fresh fit starts from g_init with sigmas widened by this
    max_aspect: float = 0.0  # > 0: Gaussians whose axis ratio exceeds this are penalised (long thin streaks); 0: off
    aspect_weight: float = 1e-2  # weight of that penalty: mean over tokens of log(ratio / max_aspect)^2
    colour_init_iters: int = 8
    warmup_steps: int = 10  # lr ramp when given start tokens come without Adam moments (no first-step kick)
    progress_every: int = 10
    max_recoveries: int = 10
    device: str | None = None  # None: gpstoken.settings.default_device()
    backend: str = "auto"  # renderer backend (gpstoken.render.BACKENDS)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, numbers.Integral) or self.steps < 0:
            raise GPSTokenError(f"steps must be a non-negative integer, got {self.steps!r}")
        for name in ("lr_geometry", "lr_features", "support", "start_sigma_scale"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise GPSTokenError(f"{name} must be a positive finite number, got {value!r}")
        if not (math.isfinite(self.max_aspect) and math.isfinite(self.aspect_weight)
                and (self.max_aspect == 0 or self.max_aspect >= 1) and self.aspect_weight >= 0):
            raise GPSTokenError("max_aspect must be 0 (off) or >= 1 and aspect_weight >= 0")
        if self.freeze not in FREEZE_MODES:
            raise GPSTokenError(f"freeze must be one of {FREEZE_MODES}, got {self.freeze!r}")
        if self.progress_every < 1 or self.warmup_steps < 1 or self.colour_init_iters < 0 or self.max_recoveries < 0:
            raise GPSTokenError(
                "progress_every and warmup_steps must be >= 1; colour_init_iters and max_recoveries >= 0")
