"""GPSToken Studio: the desktop editor over the gpstoken engine (PySide6 + vispy).

Tiers: ``model`` (document, commands, history; no Qt), ``tools`` (drag generators on the model; no
Qt), ``engines`` (engine adapters; no Qt), ``views`` (vispy visuals that listen to the model),
``widgets`` (Qt panels and the main window), ``jobs`` (the worker-thread scheduler).
"""
__version__ = "0.1.0"
