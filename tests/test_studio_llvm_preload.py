"""Triton (pulled in by torch, e.g. on the first Adam) must not crash the editor once GL is up."""
import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

SCRIPT = """
import threading
import vispy
vispy.use("pyside6")
from PySide6.QtWidgets import QApplication
from vispy import scene
import gpstoken_studio.views  # what every editor canvas imports first
app = QApplication([])
canvas = scene.SceneCanvas(show=True)
canvas.render()
def fit_step():  # the fit engine's first optimiser, on a worker thread as in the editor
    import torch
    torch.optim.Adam([torch.zeros(3, requires_grad=True)])
worker = threading.Thread(target=fit_step)
worker.start()
worker.join()
print("alive")
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="triton is not installed")
def test_editor_survives_torch_loading_triton_after_the_gl_context():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "alive" in done.stdout, done.stderr[-1500:]
