"""The editing session without Qt (``Session``): what every front-end (Qt window, browser page) binds to."""
from gpstoken_studio.session.session import LAYERS, Session, SessionEvents

__all__ = ["LAYERS", "Session", "SessionEvents"]
