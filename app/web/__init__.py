"""The editor in a browser (Panel + Bokeh) over the same Qt-free Session as the desktop window.

``gpstoken-studio --web [IMAGE]`` serves it; ``studio(IMAGE)`` returns it as a Panel object that shows
inline in a Jupyter notebook cell. Imports no Qt and no vispy.
"""
from __future__ import annotations

from pathlib import Path


def studio(image: str | Path | None = None, *, model: str | None = None, config: str | None = None,
           root: str | Path | None = None, **settings):
    """The editor on ``image`` as a Panel object (display it in a notebook cell); ``settings`` are
    ``Settings`` fields (tokens_per_tile=64, engine="fit", ...)."""
    import dataclasses

    import panel as pn

    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.web.files import FileRoot
    from gpstoken_studio.web.page import StudioPage

    pn.extension()
    page = StudioPage(image, settings=dataclasses.replace(Settings(), **settings), model=model, config=config,
                      root=FileRoot(root) if root else None)
    return page.layout


__all__ = ["studio"]
