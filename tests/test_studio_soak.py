"""A long editing session in the real window and event loop: brush strokes and Gaussian drags with their
reconstructions in between, with each engine. Nothing aborts, every step lands in the history and the
memory stays bounded (benchmarks/soak_editor.py runs 500 actions and records the numbers)."""
import sys

import pytest
import torch

from gpstoken_studio.testing import make_studio, soak, wait_idle  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.slow, pytest.mark.timeout(600)]
torch.set_num_threads(1)

ACTIONS = 12  # half strokes, half drags
WARMUP = 4  # caches, allocator pools and the model's first runs settle in the first actions
GROWTH_LIMIT_MIB = 150


@pytest.mark.parametrize("engine", ["fit", "model"])
def test_strokes_and_drags_with_reconstructions_stay_alive_and_memory_bounded(make_studio, engine):
    model = None
    if engine == "model":
        from gpstoken.models.default_model import default_model_path

        model = str(default_model_path())
    win = make_studio(tokens=32, steps=3, engine=engine, model=model)
    doc = win.document
    rss = soak(win, ACTIONS)
    growth = rss[-1] - rss[WARMUP - 1]
    print(f"soak {engine}: {ACTIONS} actions, RSS {rss[0]:.0f} -> {rss[-1]:.0f} MiB, "
          f"growth after warm-up {growth:+.0f} MiB", file=sys.stderr)
    assert win.document is doc and doc.settings.engine == engine
    assert len(doc.history) == ACTIONS  # every stroke and drag is one undo step
    assert doc.bias.values().max() > 0.9  # the strokes painted
    assert doc.result is not None and doc.result.path == "full" and doc.result.revision == doc.revision
    assert growth < GROWTH_LIMIT_MIB
