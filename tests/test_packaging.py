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
    data_only = {name for name in listed if name.startswith("gpstoken_assets.")}
    assert found == listed - data_only


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


def test_bundled_files_are_found_through_the_assets_package():
    from gpstoken.bundled_files import bundled_file, sample_image
    from gpstoken.generate.bundled import bundled_generator
    from gpstoken.models.default_model import BUNDLED_MODEL

    assert BUNDLED_MODEL == bundled_file("models", "default.safetensors") and BUNDLED_MODEL.is_file()
    assert bundled_generator("texture").is_file() and sample_image().is_file()


def test_wheel_ships_the_models_and_images_it_uses():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assets, names = ROOT / "assets", set()
    for package, patterns in config["package-data"].items():
        folder = assets.joinpath(*package.split(".")[1:])
        excluded = {p for x in config["exclude-package-data"].get(package, []) for p in folder.glob(x)}
        shipped = {p for x in patterns for p in folder.glob(x)} - excluded
        names |= {p.relative_to(assets).as_posix() for p in shipped}
    assert {"models/default.safetensors", "models/layout_tiny.safetensors", "models/texture_tiny.safetensors",
            "images/astronaut.png"} <= names
    assert "models/tiny_grid.safetensors" not in names
    # every model file in the checkout ships, but the ablation (a new model folder needs its own entry)
    models = {p.relative_to(assets).as_posix() for p in (assets / "models").rglob("*.safetensors")}
    assert models - names == {"models/tiny_grid.safetensors"}


def test_editor_views_need_no_matplotlib():
    """vispy finds some colormaps (inferno) only through matplotlib, which the studio extra does not install."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from vispy.color import get_colormap\n"
        "from gpstoken_studio import style\n"
        "get_colormap(style.ERROR_CMAP)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
