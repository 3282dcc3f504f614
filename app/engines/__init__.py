"""Engine adapters: what the editor runs on a worker thread (no Qt). See ``base.Engine``."""
from gpstoken_studio.engines.base import Engine, EngineRequest
from gpstoken_studio.engines.registry import create_engine, engine_names

__all__ = ["Engine", "EngineRequest", "create_engine", "engine_names"]
