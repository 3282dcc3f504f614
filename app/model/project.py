"""Project files (.gpsproj): one zip (numpy .npz) holding everything a document needs to reopen.

Arrays: ``image`` uint8 [H,W,3], ``bias`` float32 [H,W], ``geometry`` float32 [M,5], ``regions``
int32 [M,4], ``tiles`` int32 [M], ``locks`` uint8 [M], ``deleted`` bool [M], optional refined
``tokens`` float32 [K,5+C] with ``token_rows`` int64 [K]; ``meta`` is a JSON string with
``format``, ``version``, ``settings`` and ``features``. Loading checks the sizes the array headers
declare against the limits of ``gpstoken.limits`` before anything is allocated, then validates every
array (finite values, bounded features) and raises a one-line ProjectError; nothing is half-loaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpstoken.errors import GPSTokenError
from gpstoken.io.arrays import check_npz, load_npz
from gpstoken.io.atomic import atomic_path
from gpstoken.limits import check_pixels
from gpstoken.tokens import FEATURE_LIMIT, check_gaussians

from .layout import LOCK_FEATURES, LOCK_GEOMETRY, LayoutState
from .plane import Plane
from .settings import Settings

FORMAT = "gpstoken-studio-project"
VERSION = 1
SUFFIX = ".gpsproj"


class ProjectError(GPSTokenError):
    """A project file that cannot be read or does not hold a valid document."""


@dataclass(frozen=True)
class ProjectData:
    """The saved state of one document."""

    image: np.ndarray
    bias: np.ndarray
    layout: LayoutState
    settings: Settings
    tokens: np.ndarray | None = None  # refined tokens of the last full result
    token_rows: np.ndarray | None = None
    features: str = "rgb"
    image_name: str = ""
    sketch: bool = False  # the image is a blank sketching canvas


def snapshot(doc) -> ProjectData:
    """Copies of what a project file holds, taken on the GUI thread (writing may happen elsewhere)."""
    r = doc.result if doc.result is not None and doc.result.path == "full" else None
    return ProjectData(
        image=np.array(doc.image), bias=doc.bias.values(), layout=doc.layout.state(), settings=doc.settings,
        tokens=None if r is None else r.tokens.copy(), token_rows=None if r is None else r.rows.copy(),
        features="rgb" if r is None else r.features,
        image_name="" if doc.image_path is None else doc.image_path.name, sketch=doc.sketch,
    )


def save_project(data: ProjectData, path: str | os.PathLike) -> None:
    """Write ``data`` atomically: the target is the old file or the complete new one."""
    meta = {"format": FORMAT, "version": VERSION, "settings": data.settings.to_dict(),
            "features": data.features, "image_name": data.image_name, "sketch": data.sketch}
    s = data.layout
    arrays = {"meta": np.asarray(json.dumps(meta)), "image": data.image, "bias": data.bias,
              "geometry": s.geometry, "regions": s.regions, "tiles": s.tiles, "locks": s.locks, "deleted": s.deleted}
    if data.tokens is not None:
        arrays["tokens"] = data.tokens.astype(np.float32)
        arrays["token_rows"] = data.token_rows.astype(np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def load_project(path: str | os.PathLike) -> ProjectData:
    """Read and validate a project file; any problem is one ProjectError line."""
    p = Path(path)
    if not p.is_file():
        raise ProjectError(f"no such project file: {p}")
    image_shape = check_npz(p, ProjectError).get("image", ((),))[0]
    try:
        if len(image_shape) == 3:  # before anything is allocated
            check_pixels(image_shape[1], image_shape[0], "image")
    except GPSTokenError as exc:
        raise ProjectError(f"{p.name}: {exc}") from None
    raw = load_npz(p, ProjectError, "project file")
    try:
        return _validate(raw)
    except GPSTokenError as exc:
        raise ProjectError(f"{p.name}: {exc}") from None


def _validate(raw: dict) -> ProjectData:
    meta = _meta(raw)
    for key in ("image", "bias", "geometry", "regions", "tiles", "locks", "deleted"):
        if key not in raw:
            raise ProjectError(f"missing array '{key}'")
    image = raw["image"]
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise ProjectError(f"image must be uint8 [H, W, 3], got {image.dtype} {list(image.shape)}")
    h, w = image.shape[:2]
    bias = _array(raw, "bias", np.floating, (h, w))
    if not np.isfinite(bias).all() or bias.min(initial=0) < 0 or bias.max(initial=0) > 1:
        raise ProjectError("bias must hold finite values in [0, 1]")
    settings = Settings.from_dict(meta["settings"])
    geometry = _array(raw, "geometry", np.floating, (None, 5))
    m = len(geometry)
    regions = _array(raw, "regions", np.integer, (m, 4))
    tiles = _array(raw, "tiles", np.integer, (m,))
    locks = _array(raw, "locks", np.integer, (m,))
    deleted = _array(raw, "deleted", np.bool_, (m,))
    check_gaussians(geometry, "geometry", FEATURE_LIMIT)
    if np.abs(geometry[:, 3:5]).max(initial=0) > 1:
        raise ProjectError("geometry: centres must lie in [-1, 1]")
    plane = Plane.for_image((h, w), settings.tile)
    ph, pw = plane.size
    if m and (regions.min() < 0 or regions[:, [0, 2]].max() >= pw or regions[:, [1, 3]].max() >= ph):
        raise ProjectError(f"regions must lie inside the {pw}x{ph} plane")
    if m and (tiles.min() < 0 or tiles.max() >= plane.num_tiles):
        raise ProjectError(f"tiles must be in 0..{plane.num_tiles - 1}")
    if m and locks.max() > (LOCK_GEOMETRY | LOCK_FEATURES):
        raise ProjectError("locks hold unknown bits")
    layout = LayoutState.build(geometry, regions, tiles, locks, deleted)
    tokens = rows = None
    if "tokens" in raw:
        tokens = _array(raw, "tokens", np.floating, (None, None))
        rows = _array(raw, "token_rows", np.integer, (len(tokens),))
        if tokens.shape[1] <= 5:
            raise ProjectError(f"tokens must be [K, 5+C], got {list(tokens.shape)}")
        check_gaussians(tokens, "tokens", FEATURE_LIMIT)
        if len(rows) and (rows.min() < 0 or rows.max() >= m):
            raise ProjectError("token_rows must index layout rows")
    features = str(meta.get("features", "rgb"))
    if features not in ("rgb", "latent"):
        raise ProjectError(f"features must be 'rgb' or 'latent', got {features!r}")
    sketch = meta.get("sketch", False)
    if not isinstance(sketch, bool):
        raise ProjectError(f"sketch must be true or false, got {sketch!r}")
    return ProjectData(image, bias.astype(np.float32), layout, settings,
                       None if tokens is None else tokens.astype(np.float32),
                       None if rows is None else rows.astype(np.int64), features, str(meta.get("image_name", "")),
                       sketch)


def _meta(raw: dict) -> dict:
    if "meta" not in raw:
        raise ProjectError("missing 'meta': not a GPSToken Studio project")
    try:
        meta = json.loads(str(raw["meta"]))
    except json.JSONDecodeError:
        raise ProjectError("'meta' is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ProjectError("not a GPSToken Studio project (wrong format tag)")
    version = meta.get("version")
    if not isinstance(version, int) or version < 1:
        raise ProjectError(f"bad format version {version!r}")
    if version > VERSION:
        raise ProjectError(f"written by a newer version (format {version}; this one reads up to {VERSION})")
    if not isinstance(meta.get("settings"), dict):
        raise ProjectError("'meta' has no settings")
    return meta


def _array(raw: dict, key: str, kind: type, shape: tuple) -> np.ndarray:
    a = raw[key]
    if not np.issubdtype(a.dtype, kind):
        raise ProjectError(f"{key} has dtype {a.dtype}")
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = ", ".join("*" if s is None else str(s) for s in shape)
        raise ProjectError(f"{key} must have shape [{want}], got {list(a.shape)}")
    return a
