"""The document model of the editor: no Qt here (tests import it with Qt blocked)."""
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY, LayoutChange, LayoutState, TokenLayout
from gpstoken_studio.model.plane import Plane
from gpstoken_studio.model.result import Result
from gpstoken_studio.model.settings import Settings

__all__ = ["Document", "LOCK_FEATURES", "LOCK_GEOMETRY", "LayoutChange", "LayoutState", "Plane", "Result",
           "Settings", "TokenLayout"]
