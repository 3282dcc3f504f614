"""What an engine produced for one document revision: refined tokens, reconstruction, metrics.

Derived data: never a command; replaced whenever a newer result arrives.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Result:
    """Engine output for layout rows ``rows`` at document ``revision``."""

    revision: int
    path: str  # "fast" (during a drag) or "full"
    engine: str
    rows: np.ndarray  # int64 [K] layout rows the tokens belong to
    g_init: np.ndarray  # float32 [K, 5] the layout geometry the engine was given
    tokens: np.ndarray  # float32 [K, 5+C] refined tokens merged over the plane
    reconstruction: np.ndarray  # float32 [H, W, 3] in [0, 1] (image area only)
    features: str = "rgb"  # "rgb" (fitting) or "latent" (a tokenizer)
    metrics: dict = field(default_factory=dict)  # gpstoken.metrics.evaluate keys
    seconds: float = 0.0
    partial: bool = False  # an intermediate state of a full path still running
    warm_start: bool = False  # a fit that started from an earlier result's tokens (depends on the edit history)
    state: object = field(default=None, repr=False, compare=False)  # engine-private warm-start data

    def tokens_by_row(self, length: int) -> np.ndarray:
        """Tokens scattered to ``length`` layout rows; rows without a token are NaN."""
        out = np.full((length, self.tokens.shape[1]), np.nan, np.float32)
        ok = self.rows < length
        out[self.rows[ok]] = self.tokens[ok]
        return out


def remap_result(result: Result | None, geometry: np.ndarray) -> Result | None:
    """``result`` re-indexed to the layout rows ``geometry [M, 5]`` whose g_init it holds bit for bit: after a
    re-partition the regions it left unchanged keep their refined tokens (None when none are left)."""
    if result is None:
        return None
    where = {g.tobytes(): i for i, g in enumerate(np.ascontiguousarray(result.g_init, np.float32))}
    pairs = [(row, where[g.tobytes()]) for row, g in enumerate(np.ascontiguousarray(geometry, np.float32))
             if g.tobytes() in where]
    if not pairs:
        return None
    rows, idx = (np.array(a, np.int64) for a in zip(*pairs))
    return replace(result, rows=rows, g_init=result.g_init[idx], tokens=result.tokens[idx])
