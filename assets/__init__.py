"""Bundled models and sample images of GPSToken Studio, shipped as package data (``gpstoken_assets``)."""
