"""The token file (.npz) of DESIGN.md, validated on load.

Arrays: ``g_init`` [T,N,5], ``regions`` [T,N,4] (official normalised boxes), ``tokens`` [T,N,5+C]
(absent in an init-only file), ``tile_grid`` [2] (rows, cols), ``image_size`` [2] (H, W).
Extras we add: ``tile`` (tile side in pixels) and ``features`` ("latent" for tokenizer features,
"rgb" for the colours of per-image fitting).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GPSTokenError, TokenFileError
from ..tiling import Tiling
from ..tokens import FEATURE_LIMIT, GEOMETRY_CHANNELS, check_gaussians
from .arrays import load_npz
from .atomic import atomic_path

FEATURE_KINDS = ("latent", "rgb")


@dataclass(frozen=True)
class TokenSet:
    """Tokens of one image: layout (``g_init``, ``regions``), optional refined ``tokens``, tiling."""

    g_init: np.ndarray
    regions: np.ndarray
    tile_grid: tuple[int, int]
    image_size: tuple[int, int]
    tokens: np.ndarray | None = None
    tile: int = 256
    features: str = "latent"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tile_grid", tuple(int(v) for v in self.tile_grid))
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        validate(self)

    @property
    def tiling(self) -> Tiling:
        """How the image is cut into tiles (``tile_grid`` is checked to be its grid)."""
        return Tiling(self.image_size, self.tile)

    @property
    def num_tiles(self) -> int:
        return self.tiling.num_tiles

    @property
    def tokens_per_tile(self) -> int:
        return int(self.g_init.shape[1])

    @property
    def feature_channels(self) -> int:
        return 0 if self.tokens is None else int(self.tokens.shape[-1]) - GEOMETRY_CHANNELS

    def save(self, path: str | os.PathLike) -> None:
        """Write the file atomically."""
        arrays = {
            "g_init": self.g_init.astype(np.float32),
            "regions": self.regions.astype(np.float32),
            "tile_grid": np.asarray(self.tile_grid, dtype=np.int64),
            "image_size": np.asarray(self.image_size, dtype=np.int64),
            "tile": np.asarray(self.tile, dtype=np.int64),
            "features": np.asarray(self.features),
        }
        if self.tokens is not None:
            arrays["tokens"] = self.tokens.astype(np.float32)
        with atomic_path(Path(path).with_suffix(".npz")) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TokenSet":
        """Read and validate a token file; any problem is one TokenFileError line."""
        p = Path(path)
        if p.is_dir():
            raise TokenFileError(f"{p} is a folder, not a token file")
        if not p.is_file():
            raise TokenFileError(f"no such token file: {p}")
        data = load_npz(p, TokenFileError)
        for key in ("g_init", "regions", "tile_grid", "image_size"):
            if key not in data:
                raise TokenFileError(f"{p.name}: missing array '{key}'")
        try:
            return cls(
                g_init=np.asarray(data["g_init"], dtype=np.float32),
                regions=np.asarray(data["regions"], dtype=np.float32),
                tile_grid=tuple(np.asarray(data["tile_grid"]).reshape(-1).tolist()),
                image_size=tuple(np.asarray(data["image_size"]).reshape(-1).tolist()),
                tokens=None if "tokens" not in data else np.asarray(data["tokens"], dtype=np.float32),
                tile=int(data.get("tile", 256)),
                features=str(data.get("features", "latent")),
            )
        except TokenFileError as exc:
            raise TokenFileError(f"{p.name}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise TokenFileError(f"{p.name}: malformed arrays ({exc})") from None


def validate(ts: TokenSet) -> None:
    """Raise TokenFileError unless shapes agree and every value is finite and in range."""
    g, r, t = ts.g_init, ts.regions, ts.tokens
    if len(ts.tile_grid) != 2 or min(ts.tile_grid) < 1:
        raise TokenFileError(f"tile_grid must be two positive integers, got {ts.tile_grid}")
    if len(ts.image_size) != 2 or min(ts.image_size) < 1:
        raise TokenFileError(f"image_size must be two positive integers, got {ts.image_size}")
    tiles = ts.tile_grid[0] * ts.tile_grid[1]
    if g.ndim != 3 or g.shape[0] != tiles or g.shape[2] != GEOMETRY_CHANNELS:
        raise TokenFileError(f"g_init must be [{tiles},N,5] for a {ts.tile_grid} tile grid, got {list(g.shape)}")
    if r.shape != g.shape[:2] + (4,):
        raise TokenFileError(f"regions must be {list(g.shape[:2]) + [4]}, got {list(r.shape)}")
    if t is not None and (t.ndim != 3 or t.shape[:2] != g.shape[:2] or t.shape[2] <= GEOMETRY_CHANNELS):
        raise TokenFileError(f"tokens must be {list(g.shape[:2])}+[5+C], got {list(t.shape)}")
    if ts.features not in FEATURE_KINDS:
        raise TokenFileError(f"features must be one of {FEATURE_KINDS}, got {ts.features!r}")
    try:
        ts.tiling.check_grid(ts.tile_grid)
    except GPSTokenError as exc:
        raise TokenFileError(str(exc)) from None
    if not np.isfinite(r).all() or np.abs(r).max(initial=0) > 1 + 1e-4:
        raise TokenFileError("regions hold NaN or values outside [-1, 1]")
    try:
        check_gaussians(g, "g_init", FEATURE_LIMIT)
        if t is not None:
            check_gaussians(t, "tokens", FEATURE_LIMIT)
    except GPSTokenError as exc:
        raise TokenFileError(str(exc)) from None
