"""Packaging: every package folder ships, and the engine never imports Qt."""
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for name, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    assert found == listed


def test_engine_imports_without_qt():
    code = (
        "import sys, importlib, pkgutil, gpstoken\n"
        "for m in pkgutil.walk_packages(gpstoken.__path__, 'gpstoken.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'vispy', 'qasync'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_main_functions_stay_callable_after_their_modules_are_imported():
    import importlib

    import gpstoken

    for name in ("partition", "calibrate", "render"):
        before = getattr(gpstoken, name)
        importlib.import_module(f"gpstoken.{name}")
        after = getattr(gpstoken, name)
        assert callable(before) and callable(after)
        assert getattr(importlib.import_module(f"gpstoken.{name}"), name).__name__ == name
