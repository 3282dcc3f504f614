"""Canvas tools as drag generators on the document (napari style); no Qt.

A tool is ``tool(doc, event, overlay) -> Iterator[None]``: press runs it to its first ``yield``,
each pointer move advances it once, release finishes it. ``event`` is one ``PointerEvent`` object
updated in place, so the generator always sees the latest position.
"""
from gpstoken_studio.tools.base import Mode, PointerEvent, ToolOverlay
from gpstoken_studio.tools.registry import TOOLS

__all__ = ["Mode", "PointerEvent", "TOOLS", "ToolOverlay"]
