"""Real mouse input on the editor canvas: tools edit the document, undo restores it exactly."""
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint

from gpstoken.tokens import MX, MY
from gpstoken_studio.testing import GOLDEN, canvas_point, drag, make_studio, wait_idle  # noqa: F401
from gpstoken_studio.tools import Mode

pytestmark = [pytest.mark.gui, pytest.mark.timeout(180)]
torch.set_num_threads(1)


def largest_token(doc) -> int:
    live = doc.layout.live()
    s = doc.plane.sigmas_px(doc.layout.geometry()[live])
    return int(live[np.argmax(s[:, 0] * s[:, 1])])


def test_drag_moves_one_gaussian_and_changes_the_reconstruction(make_studio, qtbot):
    win = make_studio(GOLDEN / "camera.png", tokens=64, steps=3)
    doc = win.document
    g0, recon0 = doc.layout.geometry(), doc.result.reconstruction.copy()
    i = largest_token(doc)
    win.set_mode(Mode.MOVE)
    start = canvas_point(win, doc.plane.centers(g0)[i])
    drag(qtbot, win.canvas.native, start, start + QPoint(40, 0))
    wait_idle(win)
    g1 = doc.layout.geometry()
    assert np.flatnonzero((g1 != g0).any(axis=1)).tolist() == [i]
    assert g1[i, MX] > g0[i, MX] and g1[i, MY] == g0[i, MY]
    assert len(doc.history) == 1  # one drag is one undo step
    assert doc.result.path == "full" and doc.result.revision == doc.revision
    assert not np.array_equal(doc.result.reconstruction, recon0)
    doc.history.undo()
    assert np.array_equal(doc.layout.geometry(), g0)
