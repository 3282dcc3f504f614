"""The tool table: mode -> drag generator (PAN is handled by the canvas camera)."""
from __future__ import annotations

from gpstoken_studio.tools.add_tool import add_drag
from gpstoken_studio.tools.base import Mode
from gpstoken_studio.tools.brush_tool import brush_drag, eraser_drag
from gpstoken_studio.tools.delete_tool import delete_click
from gpstoken_studio.tools.move_tool import move_drag
from gpstoken_studio.tools.select_tool import lasso_drag, select_drag

TOOLS = {
    Mode.SELECT: select_drag,
    Mode.LASSO: lasso_drag,
    Mode.MOVE: move_drag,
    Mode.ADD: add_drag,
    Mode.DELETE: delete_click,
    Mode.BRUSH: brush_drag,
    Mode.ERASER: eraser_drag,
}
