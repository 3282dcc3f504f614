"""The Qt-free session model: a whole editing cycle without PySide6 or vispy, and each piece of its state."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gpstoken_studio.model.settings import Settings
from gpstoken_studio.session import LAYERS, Session
from gpstoken_studio.tools import Mode

GOLDEN = Path(__file__).parent / "golden"

NO_QT_CYCLE = textwrap.dedent('''
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("PySide6", "shiboken6", "vispy", "PyQt5", "PyQt6"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    import numpy as np
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.session import Session
    from gpstoken_studio.tools import Mode

    s = Session(Settings(tokens_per_tile=32, fit_steps=3))
    assert s.open_path(sys.argv[1]) and s.wait_idle(120)
    doc = s.document
    first = doc.result
    before = doc.layout.geometry().copy()
    row = int(doc.layout.live()[0])
    x, y = doc.plane.centers(doc.layout.geometry()[[row]])[0]
    s.tools.set_mode(Mode.MOVE)
    s.tools.pointer("press", (x, y))
    for k in range(1, 6):
        s.tools.pointer("move", (x + 2 * k, y + k))
    s.tools.pointer("release", (x + 10, y + 5))
    assert s.wait_idle(120)
    moved = doc.layout.geometry().copy()
    after = doc.result
    assert len(doc.history) == 1 and not np.array_equal(moved, before)
    assert after.revision == doc.revision and after.path == "full" and after is not first
    assert s.undo() and s.wait_idle(120)
    assert np.array_equal(doc.layout.geometry(), before) and doc.result.revision == doc.revision
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "vispy"))
    print("OK", round(first.metrics["psnr"], 3), round(after.metrics["psnr"], 3), loaded)
''')


def test_a_whole_edit_reconstruct_undo_cycle_runs_with_qt_and_vispy_blocked():
    out = subprocess.run([sys.executable, "-c", NO_QT_CYCLE, str(GOLDEN / "camera.png")], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    ok, psnr_first, psnr_after, loaded = out.stdout.split(maxsplit=3)
    assert ok == "OK" and loaded.strip() == "[]"
    assert 10 < float(psnr_first) < 40 and 10 < float(psnr_after) < 40


@pytest.fixture
def session():
    s = Session(Settings(tokens_per_tile=32, fit_steps=2))
    yield s
    s.shutdown()


def opened(s: Session, image: Path = GOLDEN / "camera.png") -> Session:
    assert s.open_path(image) and s.wait_idle(120)
    return s


def test_layers_have_one_writer_and_say_each_change(session):
    seen = []
    session.events.layer.connect(lambda key, visible: seen.append((key, visible)))
    assert [key for key, _ in LAYERS] == list(session.layers)
    assert session.layers["refined"] is False and session.layers["ginit"] is True
    session.toggle_layer("ginit")
    session.set_layer("ginit", False)  # no change: no event
    session.set_layer("refined", True)
    assert seen == [("ginit", False), ("refined", True)]
    with pytest.raises(KeyError):
        session.set_layer("nope", True)


def test_a_file_that_cannot_open_is_an_error_event_and_keeps_the_document(session, tmp_path):
    opened(session)
    doc = session.document
    errors = []
    session.events.error.connect(lambda title, message: errors.append((title, message)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert not session.open_path(bad)
    assert session.document is doc and len(errors) == 1 and errors[0][0] == "Cannot open file"


def test_the_model_engine_without_a_checkpoint_is_refused_and_the_fit_engine_stays(session):
    opened(session)
    errors = []
    session.events.error.connect(lambda title, message: errors.append(message))
    assert session.engine_names() == ["fit"]
    assert not session.set_engine("model")
    assert session.engine.name == "fit" and session.document.settings.engine == "fit"
    assert "checkpoint" in errors[0]


def test_each_full_result_is_one_rate_record_of_the_document_settings(session):
    opened(session)
    session.set_token_count(16)
    assert session.wait_idle(120)
    records = session.rates.records()
    assert sorted(r.tokens_per_tile for r in records) == [16, 32]
    current = session.rates.current
    assert current.tokens_per_tile == 16 and current.tokens == len(session.document.layout.live())
    assert current.psnr == pytest.approx(session.document.result.metrics["psnr"])


def test_token_count_and_lambda_are_undoable_steps_of_the_session(session):
    opened(session)
    doc = session.document
    start = doc.layout.state()
    session.set_token_count(8)
    session.set_lambda(1.0)
    assert session.wait_idle(120)
    assert (doc.settings.tokens_per_tile, doc.settings.lam) == (8, 1.0) and len(doc.layout) == 8
    assert session.undo() and session.undo() and session.wait_idle(120)
    assert doc.settings.tokens_per_tile == 32 and np.array_equal(doc.layout.state().geometry, start.geometry)


def test_a_brush_stroke_through_the_tool_driver_adds_tokens_where_it_paints(session):
    opened(session)
    doc = session.document
    box = (96, 96, 160, 160)

    def inside() -> int:
        c = doc.plane.centers(doc.layout.geometry()[doc.layout.live()])
        return int(((c[:, 0] >= box[0]) & (c[:, 0] < box[2]) & (c[:, 1] >= box[1]) & (c[:, 1] < box[3])).sum())

    before = inside()
    session.update_settings(brush_radius=24.0)
    session.tools.set_mode(Mode.BRUSH)
    session.tools.pointer("press", (100, 128))
    for x in range(104, 160, 8):
        session.tools.pointer("move", (x, 128))
    session.tools.pointer("release", (156, 128))
    assert session.wait_idle(120)
    assert doc.bias.painted() and inside() > before
    assert len(doc.history) == 1 and doc.history.undo_name == "Paint density"


def test_an_undo_asked_while_a_stroke_is_still_being_recorded_undoes_that_stroke(session):
    opened(session)
    doc = session.document
    start = doc.layout.state()
    session.update_settings(brush_radius=24.0)
    session.tools.set_mode(Mode.BRUSH)
    session.tools.pointer("press", (60, 128))
    session.tools.pointer("move", (120, 128))
    session.tools.pointer("release", (180, 128))
    assert session.pipeline.commits_pending  # the stroke's re-partition is still on the worker
    assert session.undo()
    assert session.wait_idle(120)
    assert not doc.bias.painted() and doc.layout.state().equals(start)
    assert len(doc.history) == 1 and doc.history.redo_name == "Paint density"
    assert session.redo() and session.wait_idle(120)
    assert doc.bias.painted() and not doc.layout.state().equals(start)
