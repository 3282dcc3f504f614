"""The official release's stage 1: a layout cache (``initg.pickle``) instead of a layout model.

The file is a pickled dict ``{class id: [array [N, >=5], ...]}`` of float layouts; the reference pops
one per sample and keeps the first 5 columns. Pickles can run code, so this reader unpickles only
dicts, lists, tuples, numbers and numpy arrays, and refuses anything else with one line.
"""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from ..errors import GPSTokenError

CACHE_SUFFIXES = (".pickle", ".pkl")
_RECONSTRUCT = np.zeros(0).__reduce__()[0]  # numpy's array unpickling helper (its module moved in numpy 2)
_ALLOWED = {(c.__module__, c.__name__): c for c in (_RECONSTRUCT, np.ndarray, np.dtype, type(np.dtype(np.float32)),
                                                    type(np.dtype(np.float64)), type(np.dtype(np.float16)))}


class _Refused(pickle.UnpicklingError):
    """The pickle names a global that is not an array type."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found


def is_layout_cache(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in CACHE_SUFFIXES


def load_layout_cache(path: str | os.PathLike, tokens: int | None = None) -> dict[int, np.ndarray]:
    """``{class id: float32 [M, N, 5]}`` from an official layout cache; ``tokens`` checks N."""
    p = Path(path)
    try:
        raw = _ArraysOnly(io.BytesIO(p.read_bytes())).load()
    except FileNotFoundError:
        raise GPSTokenError(f"no such layout cache: {p}") from None
    except _Refused as exc:
        raise GPSTokenError(f"{p.name}: refused: it holds {exc}, not only arrays (pickles can run code)") from None
    except Exception as exc:  # torn or foreign files raise many types
        raise GPSTokenError(f"{p.name}: not a readable layout cache ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or not raw:
        raise GPSTokenError(f"{p.name}: a layout cache is a non-empty dict of class id -> list of layouts")
    cache = {}
    for label, layouts in raw.items():
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0:
            raise GPSTokenError(f"{p.name}: class ids must be integers >= 0, got {label!r}")
        arrays = [np.asarray(a) for a in (layouts if isinstance(layouts, (list, tuple)) else [layouts])]
        shapes = {a.shape for a in arrays}
        shape = next(iter(shapes)) if len(shapes) == 1 else ()
        if len(shape) != 2 or shape[1] < 5 or any(a.dtype.kind != "f" for a in arrays):
            raise GPSTokenError(f"{p.name}: class {label}: layouts must be float arrays [N, >=5] of one shape, "
                                f"got {sorted(shapes)[:2]}")
        n = shape[0]
        if tokens is not None and n != tokens:
            raise GPSTokenError(f"{p.name}: class {label} has layouts of {n} tokens; the texture generator "
                                f"needs {tokens}")
        g = np.stack(arrays)[..., :5].astype(np.float32)
        if not np.isfinite(g).all():
            raise GPSTokenError(f"{p.name}: class {label} holds NaN or infinite values")
        cache[int(label)] = g
    return cache


def cached_layout(cache: dict[int, np.ndarray], label: int, rng: np.random.Generator) -> np.ndarray:
    """One layout ``[N, 5]`` of class ``label`` drawn at random (the reference pops them in order)."""
    if label not in cache:
        known = sorted(cache)
        raise GPSTokenError(f"the layout cache has no class {label} (it holds {len(known)} classes: "
                            f"{', '.join(map(str, known[:8]))}{', ...' if len(known) > 8 else ''})")
    layouts = cache[label]
    return layouts[int(rng.integers(len(layouts)))].copy()
