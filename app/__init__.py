"""GPSToken Studio: the desktop editor over the gpstoken engine (PySide6 + vispy).

Tiers: ``model`` (document, commands, history; no Qt), ``tools`` (drag generators and the tool driver;
no Qt), ``engines`` (engine adapters; no Qt), ``session`` (the editing session every front-end binds to:
document, engine, layers, records, generation, the pipeline and its worker; no Qt), ``views`` (vispy
visuals that listen to the model), ``widgets`` (the Qt front-end: panels and the main window), ``web``
(the browser front-end).
"""
__version__ = "0.1.0"
