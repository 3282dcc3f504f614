"""Model sets: a tokenizer, a layout and a texture generator that belong together, with class names.

A set is a folder holding ``tokenizer.safetensors``, ``layout.safetensors``, ``texture.safetensors``
and optionally ``classes.json`` (a JSON list of class names, one per class id) and ``sampling.json``
(the sampling recipe the set was evaluated with: ``GenerateOptions`` fields such as ``method``, ``steps``
and ``cfg_scale``; the defaults of ``gpstoken generate --models`` and of the editor's Generate panel).
Bundled sets live in ``models/<name>/`` of the package data (``emoji``); any folder laid out the same way
works too.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..bundled_files import bundled_file
from ..errors import GPSTokenError

STAGE_FILES = {"tokenizer": "tokenizer.safetensors", "layout": "layout.safetensors",
               "texture": "texture.safetensors"}
CLASSES_FILE = "classes.json"
SAMPLING_FILE = "sampling.json"
SAMPLING_KEYS = ("method", "steps", "cfg_scale", "guidance_interval", "layout_method", "layout_steps")
BUNDLED_SETS = ("emoji",)


@dataclass(frozen=True)
class ModelSet:
    """The files of one set and its class names (``class N`` where the set names none)."""

    name: str
    folder: Path
    classes: tuple[str, ...]
    sampling: dict = field(default_factory=dict)  # GenerateOptions fields of the set's recipe

    def file(self, stage: str) -> Path:
        """The model file of ``tokenizer``, ``layout`` or ``texture``."""
        return self.folder / STAGE_FILES[stage]

    def class_index(self, spec: str | int) -> int:
        """A class id from an id or a name (case-insensitive); unknown: one line listing the valid ones."""
        text = str(spec).strip()
        if text.lstrip("-").isdigit():
            index = int(text)
            if 0 <= index < len(self.classes):
                return index
        else:
            for i, name in enumerate(self.classes):
                if name.casefold() == text.casefold():
                    return i
        listed = ", ".join(f"{i} {name!r}" for i, name in enumerate(self.classes))
        raise GPSTokenError(f"unknown class {text!r} for the {self.name} models; valid: {listed}")


def bundled_set_names() -> list[str]:
    """The bundled sets present in this installation."""
    return [name for name in BUNDLED_SETS if bundled_file("models", name, STAGE_FILES["texture"]).is_file()]


def load_model_set(spec: str | os.PathLike) -> ModelSet:
    """A bundled set by name or a folder of model files; a missing stage or a bad classes file is one line."""
    text = str(spec)
    if text in BUNDLED_SETS:
        folder, name = bundled_file("models", text), text
    elif Path(text).is_dir():
        folder, name = Path(text), Path(text).name
    else:
        raise GPSTokenError(f"--models {text!r}: not a bundled set ({', '.join(BUNDLED_SETS)}) nor a folder")
    missing = [f for f in STAGE_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise GPSTokenError(f"the model set {folder} lacks {', '.join(missing)} "
                            f"(a set needs {', '.join(STAGE_FILES.values())})")
    from .checkpoint import read_generator_config

    count = read_generator_config(folder / STAGE_FILES["texture"]).num_classes
    classes = _class_names(folder, count)
    if len(classes) != count:
        raise GPSTokenError(f"{folder / CLASSES_FILE} names {len(classes)} classes; "
                            f"the texture generator has {count}")
    return ModelSet(name, folder, classes, _sampling(folder))


def _sampling(folder: Path) -> dict:
    """The recipe of ``sampling.json`` (checked as GenerateOptions), or {} without one."""
    path = folder / SAMPLING_FILE
    if not path.is_file():
        return {}
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise GPSTokenError(f"{path}: not a readable JSON object ({type(exc).__name__})") from None
    if not isinstance(recipe, dict):
        raise GPSTokenError(f"{path}: must be a JSON object of sampling options")
    unknown = sorted(set(recipe) - set(SAMPLING_KEYS))
    if unknown:
        raise GPSTokenError(f"{path}: unknown keys {unknown}; known: {', '.join(SAMPLING_KEYS)}")
    from .options import GenerateOptions

    try:
        GenerateOptions(**recipe)
    except (GPSTokenError, TypeError) as exc:
        raise GPSTokenError(f"{path}: {exc}") from None
    return recipe


def _class_names(folder: Path, count: int) -> tuple[str, ...]:
    """Names from ``classes.json``, else ``class 0..count-1``."""
    path = folder / CLASSES_FILE
    if path.is_file():
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise GPSTokenError(f"{path}: not a readable JSON list ({type(exc).__name__})") from None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise GPSTokenError(f"{path}: must be a JSON list of class names")
        return tuple(names)
    return tuple(f"class {i}" for i in range(count))


def class_id(spec: str | int, model_set: ModelSet | None) -> int:
    """``--class``: an id, or a name of ``model_set``'s classes (a name without a set is one line)."""
    if model_set is not None:
        return model_set.class_index(spec)
    text = str(spec).strip()
    if not text.lstrip("-").isdigit():
        raise GPSTokenError(f"--class {text!r}: class names need --models (a set with class names); "
                            "without it give a class id")
    return int(text)
