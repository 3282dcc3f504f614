"""Document settings: token count, partition parameters, engine choice and brush."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from gpstoken.errors import GPSTokenError

ENGINES = ("fit", "model")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class Settings:
    """Everything a document needs besides its arrays; saved in the project file."""

    tokens_per_tile: int = 128
    lam: float = 2.5
    min_size: int = 8
    tile: int = 256
    engine: str = "fit"
    fit_steps: int = 60  # full path: fit steps after every edit (warm-started)
    precision: str = "auto"  # model engine: auto = bf16 on GPUs and on CPUs with hardware bf16, else fp32
    bias_gain: float = 2000.0  # painted value 1.0 adds this much per pixel to a region's split metric
    brush_radius: float = 12.0
    brush_strength: float = 1.0
    undo_depth: int = 200  # undo steps kept; the oldest is dropped beyond this (Edit > Undo then stops there)

    def __post_init__(self) -> None:
        check = [
            (1 <= self.tokens_per_tile <= 4096, "tokens_per_tile must be in 1..4096"),
            (self.lam >= 0, "lam must be >= 0"),
            (self.min_size >= 1, "min_size must be >= 1"),
            (self.tile >= 0, "tile must be >= 0"),
            (self.engine in ENGINES, f"engine must be one of {ENGINES}"),
            (0 <= self.fit_steps <= 100000, "fit_steps must be in 0..100000"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.bias_gain >= 0, "bias_gain must be >= 0"),
            (0.5 <= self.brush_radius <= 1024, "brush_radius must be in 0.5..1024"),
            (0 < self.brush_strength <= 1, "brush_strength must be in (0, 1]"),
            (1 <= self.undo_depth <= 100000, "undo_depth must be in 1..100000"),
        ]
        for ok, message in check:
            if not ok:
                raise GPSTokenError(f"settings: {message}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Settings":
        """Settings from a saved dict; unknown keys are an error, missing ones take defaults."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise GPSTokenError(f"settings: unknown keys {unknown}")
        kinds = {"int": int, "float": float, "str": str}
        values = {}
        for key, value in data.items():
            kind = kinds[known[key]]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise GPSTokenError(f"settings: {key} must be {known[key]}, got {value!r}")
            values[key] = value
        return cls(**values)
