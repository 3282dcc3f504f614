"""The model engine takes images smaller than its tile: their plane is the image itself (the fit engine's
tiling), and the model sees the image edge-padded to one tile with the same Gaussians (``reframe``)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gpstoken.fit_init import adaptive_layout
from gpstoken.models.default_model import BUNDLED_MODEL
from gpstoken.tiling import Tiling
from gpstoken.tokens import g_init_from_regions, reframe
from gpstoken_studio.engines.base import EngineRequest
from gpstoken_studio.engines.model_engine import ModelEngine
from gpstoken_studio.model.plane import Plane
from gpstoken_studio.testing import GOLDEN, make_studio, wait_idle  # noqa: F401

torch.set_num_threads(1)


def _crop(h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(Image.open(GOLDEN / "astronaut.png").convert("RGB"))[20:20 + h, :w])


def _full(engine: ModelEngine, image: np.ndarray, plane: Plane, regions: np.ndarray, g_init: np.ndarray):
    k = len(regions)
    request = EngineRequest(revision=1, image=image, plane=plane, rows=np.arange(k), g_init=g_init.astype(np.float32),
                            regions=regions.astype(np.int32), tiles=np.zeros(k, np.int32),
                            locks=np.zeros(k, np.uint8), previous=None, mask=None)
    return engine.full(request, lambda *a: None, lambda: False, lambda *a: None)


def test_reframe_keeps_pixel_positions_and_round_trips():
    rng = np.random.default_rng(0)
    g = np.concatenate([rng.uniform(0.01, 0.3, (50, 2)), rng.uniform(-0.9, 0.9, (50, 3))], 1).astype(np.float32)
    small, tile = (60, 100), (256, 256)
    padded = reframe(g, small, tile)
    # the centre is at the same pixel in both grids; sigmas keep their pixel size; rho is unchanged
    assert np.allclose((g[:, 3] + 1) * 99 / 2, (padded[:, 3] + 1) * 255 / 2, atol=1e-4)
    assert np.allclose((g[:, 4] + 1) * 59 / 2, (padded[:, 4] + 1) * 255 / 2, atol=1e-4)
    assert np.allclose(g[:, 0] * 99, padded[:, 0] * 255, atol=1e-5) and np.array_equal(g[:, 2], padded[:, 2])
    assert np.allclose(reframe(padded, tile, small), g, atol=1e-5)


def test_small_image_plane_decodes_as_the_padded_tile_with_the_same_regions():
    image = _crop(128, 196)
    layout = adaptive_layout(image, 64)
    engine = ModelEngine(BUNDLED_MODEL, precision="fp32")
    small = _full(engine, image, Plane.for_image(image.shape[:2]), layout.regions, layout.g_init.reshape(-1, 5))
    padded_image = np.pad(image, ((0, 128), (0, 60), (0, 0)), mode="edge")
    padded = _full(engine, padded_image, Plane(Tiling((256, 256), 256)), layout.regions,
                   g_init_from_regions(layout.regions))
    assert small.reconstruction.shape == (128, 196, 3)
    # the only difference: official g_init sigmas are normalised by the side, not the side - 1
    assert np.abs(small.reconstruction - padded.reconstruction[:128, :196]).max() < 0.05
    assert np.all(np.abs(small.tokens[:, 3:5]) <= 1)


@pytest.mark.gui
@pytest.mark.timeout(300)
def test_editor_model_engine_opens_an_image_smaller_than_a_tile(make_studio, tmp_path):
    path = tmp_path / "small.png"
    Image.fromarray(_crop(128, 256)).save(path)
    win = make_studio(path, tokens=64, model=BUNDLED_MODEL, engine="model", precision="fp32")
    wait_idle(win, timeout=120)
    result = win.document.result
    assert result.engine == "model" and result.reconstruction.shape == (128, 256, 3)
    cli = subprocess.run([sys.executable, "-m", "gpstoken.cli", "reconstruct", str(path), "--model", str(BUNDLED_MODEL),
                          "--tokens", "64", "--precision", "fp32", "--out", str(tmp_path / "r.png"), "--json", "-",
                          "--quiet"], capture_output=True, text=True, timeout=200)
    assert cli.returncode == 0, cli.stderr
    # the layouts differ (the editor partitions the image, the command line the padded tile): same league only
    assert abs(result.metrics["psnr"] - json.loads(cli.stdout)["psnr"]) < 3
