"""Where the files that ship with the package (models, sample images) are, through ``importlib.resources``:
an editable install finds them in the checkout's ``assets/``, a wheel in site-packages."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ASSETS_PACKAGE = "gpstoken_assets"


def bundled_file(*parts: str) -> Path:
    """The path of a bundled file or folder, e.g. ``bundled_file("models", "default.safetensors")``
    (it may be missing: callers say so in their own words)."""
    return Path(str(files(ASSETS_PACKAGE).joinpath("/".join(parts))))


def sample_image(name: str = "astronaut") -> Path:
    """A bundled sample image by its stem (``assets/images/NAME.png``)."""
    return bundled_file("images", f"{name}.png")
