"""The knobs of generation: how one stage samples (:class:`SamplerOptions`) and a whole run (:class:`GenerateOptions`)."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from ..errors import GPSTokenError

METHODS = ("ode", "sde", "euler", "heun")


def check_sampler(method: str, steps: int, prefix: str = "") -> None:
    """One-line error unless ``method`` is a known sampler and ``steps`` an integer it can take (sde needs 2)."""
    if method not in METHODS:
        raise GPSTokenError(f"{prefix}sampler must be one of {', '.join(METHODS)}, got {method!r}")
    least = 2 if method == "sde" else 1
    if not _is_int(steps) or steps < least:
        raise GPSTokenError(f"{prefix}steps must be an integer >= {least} for the {method} sampler, got {steps!r}")


def check_guidance(cfg_scale: float, interval: tuple[float, float]) -> None:
    """One-line error unless ``cfg_scale`` is finite and ``interval`` is ``(low, high)`` with 0 <= low <= high <= 1."""
    if not _is_real(cfg_scale):
        raise GPSTokenError(f"cfg_scale must be a finite number, got {cfg_scale!r}")
    try:
        low, high = interval
    except (TypeError, ValueError):
        raise GPSTokenError(f"guidance_interval must be two numbers (low, high), got {interval!r}") from None
    if not (_is_real(low) and _is_real(high) and 0 <= low <= high <= 1):
        raise GPSTokenError(f"guidance_interval must be finite (low, high) with 0 <= low <= high <= 1, got {interval!r}")


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class SamplerOptions:
    """How one stage samples: the flow sampler (``ode`` is adaptive and ignores ``steps``) and classifier-free
    guidance of scale ``cfg_scale``, applied for ``low <= t <= high`` of ``guidance_interval`` (t = 1 is data)."""

    method: str = "ode"
    steps: int = 50
    cfg_scale: float = 1.0
    guidance_interval: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        check_sampler(self.method, self.steps)
        check_guidance(self.cfg_scale, self.guidance_interval)
        object.__setattr__(self, "guidance_interval", tuple(float(v) for v in self.guidance_interval))


TEXTURE_SAMPLING = SamplerOptions("sde", 250)  # the reference's stage 2
LAYOUT_SAMPLING = SamplerOptions("ode", 50)


@dataclass(frozen=True)
class GenerateOptions:
    """Knobs of :func:`gpstoken.generate.generate`; every field can also be passed to it as a keyword.

    ``method``/``steps``: the stage-2 (texture) sampler; ``layout_method``/``layout_steps``: stage 1's; both use
    ``cfg_scale`` and ``guidance_interval``. Image ``i`` uses seed ``seed + i``. ``decode=False`` skips the decoder.
    """

    method: str = TEXTURE_SAMPLING.method
    steps: int = TEXTURE_SAMPLING.steps
    cfg_scale: float = 1.0
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    layout_method: str = LAYOUT_SAMPLING.method
    layout_steps: int = LAYOUT_SAMPLING.steps
    seed: int = 0
    decode: bool = True

    def __post_init__(self) -> None:
        check_sampler(self.method, self.steps)
        check_sampler(self.layout_method, self.layout_steps, "layout_")
        check_guidance(self.cfg_scale, self.guidance_interval)
        object.__setattr__(self, "guidance_interval", tuple(float(v) for v in self.guidance_interval))
        if not _is_int(self.seed) or self.seed < 0:
            raise GPSTokenError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.decode, bool):
            raise GPSTokenError(f"decode must be true or false, got {self.decode!r}")

    @property
    def texture_sampling(self) -> SamplerOptions:
        """Stage 2's sampling."""
        return SamplerOptions(self.method, self.steps, self.cfg_scale, self.guidance_interval)

    @property
    def layout_sampling(self) -> SamplerOptions:
        """Stage 1's sampling."""
        return SamplerOptions(self.layout_method, self.layout_steps, self.cfg_scale, self.guidance_interval)
