"""Exports that other tools read: the token file (.npz, as the gpstoken CLI reads it) and PNGs."""
from __future__ import annotations

import os

import numpy as np

from gpstoken.errors import GPSTokenError
from gpstoken.fit_init import Layout
from gpstoken.io.images import save_image
from gpstoken.io.tokenfile import TokenSet
from gpstoken.tokens import split_tiles

from .document import Document


def current_result(doc: Document):
    """The result that matches the layout as it is now, or a one-line error."""
    r = doc.result
    live = doc.layout.live()
    if r is None or not np.array_equal(r.rows, live) or not np.array_equal(r.g_init, doc.layout.geometry()[live]):
        raise GPSTokenError("the reconstruction is not up to date yet; wait for the status bar to go idle")
    return r


def token_set(doc: Document) -> TokenSet:
    """The document's layout and refined tokens in the per-tile token-file layout."""
    r = current_result(doc)
    rows = r.rows
    tiles = doc.layout.state().tiles[rows]
    counts = np.bincount(tiles, minlength=doc.plane.num_tiles)
    if len(set(counts.tolist())) != 1:
        raise GPSTokenError(f"token files need the same number of tokens in every tile; tiles hold {counts.tolist()}")
    order = np.argsort(tiles, kind="stable")
    geometry = doc.layout.geometry()[rows][order]
    tokens = r.tokens[order]
    grid = doc.plane.tile_grid
    layout = Layout(
        regions=doc.layout.regions()[rows][order].astype(np.int64),
        g_init=split_tiles(geometry[None], grid).astype(np.float32),
        tiling=doc.plane.tiling,
    )
    return layout.token_set(split_tiles(tokens[None], grid).astype(np.float32), features=r.features)


def export_tokens(doc: Document, path: str | os.PathLike) -> None:
    token_set(doc).save(path)


def export_reconstruction(doc: Document, path: str | os.PathLike) -> None:
    r = current_result(doc)
    save_image(path, np.clip(np.rint(r.reconstruction * 255), 0, 255).astype(np.uint8))
