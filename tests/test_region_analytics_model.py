"""Region analytics and rate-quality records without Qt: the engine's inside/outside metrics, token centres in a
mask, and the app models imported and used with PySide6 and vispy blocked."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gpstoken.metrics import psnr
from gpstoken.region_metrics import centres_in_mask, region_quality


def test_inside_and_outside_metrics_are_the_masked_metrics_of_each_side():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    test = ref.copy()
    test[:20] = np.clip(test[:20].astype(int) + 20, 0, 255).astype(np.uint8)  # only the top half is wrong
    mask = np.zeros((40, 48), bool)
    mask[:20] = True
    q = region_quality(ref, test, mask)
    assert q["psnr_inside"] == pytest.approx(psnr(ref, test, mask)) and q["psnr_outside"] == float("inf")
    assert q["ssim_outside"] == pytest.approx(1.0) and q["ssim_inside"] < 1.0
    whole = region_quality(ref, test, np.ones((40, 48), bool))
    assert whole["psnr_inside"] == pytest.approx(psnr(ref, test)) and whole["haarpsi_outside"] is None


def test_token_centres_round_to_pixels_and_padding_is_outside():
    mask = np.zeros((4, 6), bool)
    mask[1, 2] = True
    centres = np.array([[2.4, 0.6], [1.6, 1.0], [2.0, 1.0], [7.0, 1.0], [-1.0, 1.0]])
    assert centres_in_mask(centres, mask).tolist() == [True, True, True, False, False]


QT_FREE = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "vispy", "pyqtgraph"):
                raise ImportError(f"blocked: {name}")
    sys.meta_path.insert(0, Block())
    import numpy as np, torch
    torch.set_num_threads(1)
    from gpstoken.io.images import load_image
    from gpstoken_studio.engines.base import EngineRequest
    from gpstoken_studio.engines.fit_engine import FitEngine
    from gpstoken_studio.model.document import Document
    from gpstoken_studio.model.rate_records import RateBook, record_of
    from gpstoken_studio.model.region_analytics import RegionAnalytics
    from gpstoken_studio.model.settings import Settings

    doc = Document(load_image(sys.argv[1]), Settings(tokens_per_tile=16, fit_steps=2))
    doc.reset_layout(doc.partition())
    analytics, book = RegionAnalytics(doc, "selection"), RateBook()
    s = doc.layout.state()
    request = EngineRequest(revision=doc.revision, image=np.array(doc.image), plane=doc.plane,
                            rows=np.arange(len(s)), g_init=s.geometry, regions=s.regions, tiles=s.tiles,
                            locks=s.locks, previous=None, mask=None, steps=2)
    result = FitEngine().full(request, lambda f, m: None, lambda: False, lambda r: None)
    doc.set_result(result)
    assert analytics.after is None  # nothing selected yet
    doc.layout.select(np.array([0, 1, 2]))
    assert analytics.after.tokens == 3 and 0 < analytics.after.area_share < 1
    book.add(record_of(result, doc.settings, tiles=1), current=True)
    assert not book.current.warm and book.current.command("x.png").startswith("gpstoken fit x.png --tokens 16")
    assert not [m for m in sys.modules if m.split(".")[0] in ("PySide6", "vispy", "pyqtgraph")]
    print("ok", analytics.after.metrics["psnr_inside"])
""")


def test_region_analytics_and_rate_records_run_without_qt():
    from gpstoken_studio.testing import GOLDEN

    out = subprocess.run([sys.executable, "-c", QT_FREE, str(GOLDEN / "camera.png")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok ")


def test_rate_record_takes_a_checkpoint_path_and_prints_it_in_its_command():
    from pathlib import Path

    import numpy as np

    from gpstoken_studio.model.rate_records import record_of
    from gpstoken_studio.model.result import Result
    from gpstoken_studio.model.settings import Settings

    result = Result(revision=1, path="full", engine="model", rows=np.arange(4), g_init=np.zeros((4, 5), np.float32),
                    tokens=np.zeros((4, 21), np.float32), reconstruction=np.zeros((8, 8, 3), np.float32),
                    features="latent", seconds=0.1, metrics={"psnr": 21.5, "ssim": 0.5, "haarpsi": 0.4})
    record = record_of(result, Settings(), tiles=1, checkpoint=Path("/models/my model.safetensors"))
    assert record.checkpoint == "/models/my model.safetensors"
    assert "--model '/models/my model.safetensors'" in record.command("photo.png")
