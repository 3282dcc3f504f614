"""The editor's document tier without Qt: commands, history, tools, project files, engine adapter."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gpstoken.io.images import load_image
from gpstoken.tokens import MX, MY
from gpstoken_studio.model import Document, LOCK_GEOMETRY, Settings
from gpstoken_studio.model import commands
from gpstoken_studio.model.history import History
from gpstoken_studio.model.project import ProjectError, load_project, save_project, snapshot
from gpstoken_studio.tools import TOOLS, Mode, PointerEvent, ToolOverlay

GOLDEN = Path(__file__).parent / "golden"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def camera():
    return load_image(GOLDEN / "camera.png")


@pytest.fixture
def doc(camera):
    d = Document(camera, Settings(tokens_per_tile=64))
    d.reset_layout(d.partition())
    return d


def run_drag(doc, mode, points, modifiers=frozenset(), pixel_size=1.0):
    """Press at points[0], move through the rest, release at the last: the canvas's protocol."""
    p0 = np.asarray(points[0], dtype=np.float64)
    event = PointerEvent("press", p0.copy(), frozenset(modifiers), pixel_size, press_position=p0.copy())
    gen = TOOLS[mode](doc, event, ToolOverlay())
    try:
        next(gen)
        for p in points[1:]:
            event.type, event.position = "move", np.asarray(p, dtype=np.float64)
            next(gen)
        event.type = "release"
        next(gen)
    except StopIteration:
        pass


def test_model_tiers_import_without_qt():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'vispy', 'pyqtgraph', 'qasync'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import gpstoken_studio.model, gpstoken_studio.model.project, gpstoken_studio.model.export\n"
        "import gpstoken_studio.tools, gpstoken_studio.engines, gpstoken_studio.actions\n"
        "import gpstoken_studio.engines.fit_engine, gpstoken_studio.engines.model_engine\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_move_drag_emits_previews_then_one_final_change_and_one_undo_step(doc):
    changes = []
    doc.layout.changed.connect(lambda ch: changes.append((ch.action, ch.indices.tolist(), ch.final)))
    g0 = doc.layout.geometry()
    i = int(np.argmin(np.hypot(*(doc.plane.centers(g0) - [100, 100]).T)))
    c = doc.plane.centers(g0)[i]
    run_drag(doc, Mode.MOVE, [c, c + [10, 0], c + [20, 5], c + [30, 10]])
    assert [f for _, _, f in changes] == [False, False, False, True]
    assert all(a == "geometry" and idx == [i] for a, idx, _ in changes)
    assert len(doc.history) == 1 and doc.history.undo_name == "Move"
    g1 = doc.layout.geometry()
    assert np.allclose(doc.plane.centers(g1)[i] - c, [30, 10], atol=1e-3)
    assert np.array_equal(np.delete(g1, i, 0), np.delete(g0, i, 0))
    doc.history.undo()
    assert np.array_equal(doc.layout.geometry(), g0)
    doc.history.redo()
    assert np.array_equal(doc.layout.geometry(), g1)


def test_locked_geometry_does_not_move(doc):
    doc.history.push(commands.set_locks(doc, [7], LOCK_GEOMETRY, True))
    g0 = doc.layout.geometry()
    c = doc.plane.centers(g0)[7]
    run_drag(doc, Mode.MOVE, [c, c + [20, 0]])
    assert np.array_equal(doc.layout.geometry(), g0)
    assert len(doc.history) == 1  # only the lock


def test_add_drag_draws_a_box_sized_gaussian_and_undo_removes_it(doc):
    n = len(doc.layout)
    run_drag(doc, Mode.ADD, [(40, 40), (60, 50), (80, 70)])
    assert len(doc.layout) == n + 1 and len(doc.history) == 1
    g = doc.layout.geometry()[n]
    assert np.allclose(doc.plane.centers(g[None])[0], [60, 55], atol=1e-3)
    assert np.allclose(doc.plane.sigmas_px(g[None])[0], [40 / 3, 30 / 3], atol=1e-3)
    assert doc.layout.selection().tolist() == [n]
    doc.history.undo()
    assert len(doc.layout) == n


def test_delete_is_soft_and_undoable(doc):
    g0 = doc.layout.geometry()
    run_drag(doc, Mode.DELETE, [doc.plane.centers(g0)[3]])
    assert doc.layout.deleted().tolist().count(True) == 1 and doc.layout.deleted()[3]
    assert 3 not in doc.layout.live()
    doc.history.undo()
    assert not doc.layout.deleted().any()


def test_selection_click_shift_ctrl_and_lasso(doc):
    c = doc.plane.centers(doc.layout.geometry())
    run_drag(doc, Mode.SELECT, [c[2]])
    assert doc.layout.selection().tolist() == [2]
    run_drag(doc, Mode.SELECT, [c[4]], {"shift"})
    assert doc.layout.selection().tolist() == [2, 4]
    run_drag(doc, Mode.SELECT, [c[2]], {"control"})
    assert doc.layout.selection().tolist() == [4]
    square = [(0, 0), (0, 100), (100, 100), (100, 0), (0, 0)]
    run_drag(doc, Mode.LASSO, square)
    inside = np.flatnonzero((c[:, 0] < 100) & (c[:, 1] < 100) & (c[:, 0] > 0) & (c[:, 1] > 0))
    assert doc.layout.selection().tolist() == inside.tolist()
    assert len(doc.history) == 0


def test_brush_stroke_raises_token_density_under_it_at_a_fixed_count(doc):
    count = len(doc.layout)
    inside = lambda d: int(((np.abs(d.plane.centers(d.layout.geometry())[:, 1] - 200) < 24)  # noqa: E731
                            & (d.plane.centers(d.layout.geometry())[:, 0] < 250)).sum())
    before, layout0 = inside(doc), doc.layout.state()
    run_drag(doc, Mode.BRUSH, [(10, 200), (80, 200), (160, 200), (245, 200)])
    assert len(doc.layout) == count and len(doc.history) == 1
    assert doc.bias.values()[200, 100] == 1.0 and doc.bias.values()[100, 100] == 0.0
    assert inside(doc) >= before + 8
    doc.history.undo()
    assert not doc.bias.values().any()
    assert doc.layout.state().equals(layout0)


def test_token_count_updates_merge_into_one_step_and_undo_exactly(doc):
    layout0, gesture = doc.layout.state(), object()
    for n in (70, 90, 100):
        doc.history.push(commands.set_token_count(doc, n, final=False, merge_id=gesture))
    doc.history.push(commands.set_token_count(doc, 100, final=True, merge_id=gesture))
    assert len(doc.history) == 1 and len(doc.layout) == 100 and doc.settings.tokens_per_tile == 100
    doc.history.undo()
    assert doc.settings.tokens_per_tile == 64 and doc.layout.state().equals(layout0)


def test_history_drops_redo_tail_tracks_dirty_and_leaves_failed_commands_out(doc):
    h: History = doc.history
    h.push(commands.set_lambda(doc, 2.0))
    h.mark_saved()
    assert not h.dirty
    h.push(commands.set_lambda(doc, 3.0))
    assert h.dirty
    h.undo()
    assert not h.dirty and h.can_redo
    h.push(commands.set_lambda(doc, 1.5))
    assert not h.can_redo and len(h) == 2
    revision = doc.revision
    with pytest.raises(RuntimeError):
        h.push(commands.AddToken(0, commands.new_row(doc, doc.layout.geometry()[0])))
    assert len(h) == 2 and doc.revision == revision


def test_project_round_trip(doc, tmp_path):
    run_drag(doc, Mode.BRUSH, [(30, 30), (90, 40)])
    doc.history.push(commands.set_locks(doc, [1, 2], LOCK_GEOMETRY, True))
    doc.history.push(commands.delete_tokens(doc, [5]))
    path = tmp_path / "a.gpsproj"
    save_project(snapshot(doc), path)
    data = load_project(path)
    assert np.array_equal(data.image, doc.image)
    assert np.array_equal(data.bias, doc.bias.values())
    assert data.layout.equals(doc.layout.state())
    assert data.settings == doc.settings


@pytest.mark.parametrize("damage", ["not_zip", "truncated", "no_meta", "newer_version", "nan_geometry",
                                    "bad_regions", "bad_settings"])
def test_corrupt_project_files_raise_one_line_errors(doc, tmp_path, damage):
    good = tmp_path / "good.gpsproj"
    save_project(snapshot(doc), good)
    bad = tmp_path / "bad.gpsproj"
    if damage == "not_zip":
        bad.write_bytes(b"hello")
    elif damage == "truncated":
        bad.write_bytes(good.read_bytes()[:200])
    else:
        with np.load(good) as z:
            arrays = {k: z[k] for k in z.files}
        import json
        meta = json.loads(str(arrays["meta"]))
        if damage == "no_meta":
            del arrays["meta"]
        elif damage == "newer_version":
            meta["version"] = 99
        elif damage == "nan_geometry":
            arrays["geometry"][0, 0] = np.nan
        elif damage == "bad_regions":
            arrays["regions"] = arrays["regions"][:3]
        elif damage == "bad_settings":
            meta["settings"]["tokens_per_tile"] = "many"
        if "meta" in arrays:
            arrays["meta"] = np.asarray(json.dumps(meta))
        with open(bad, "wb") as fh:
            np.savez(fh, **arrays)
    with pytest.raises(ProjectError) as err:
        load_project(bad)
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.gpsproj")


def test_fit_engine_fast_path_moves_a_token_with_frozen_colours(doc):
    from gpstoken_studio.engines.base import EngineRequest
    from gpstoken_studio.engines.fit_engine import FitEngine

    engine = FitEngine()

    def request(revision, previous):
        rows = doc.layout.live()
        s = doc.layout.rows(rows)
        return EngineRequest(revision, np.array(doc.image), doc.plane, rows, s.geometry, s.regions, s.tiles,
                             s.locks, previous, None, steps=2)

    full = engine.full(request(0, None), lambda f, m: None, lambda: False, lambda r: None)
    assert full.tokens.shape == (64, 8) and full.metrics["psnr"] > 10
    i = int(np.argmin(np.hypot(*(doc.plane.centers(doc.layout.geometry()) - [100, 100]).T)))
    c = doc.plane.centers(doc.layout.geometry())[i]
    run_drag(doc, Mode.MOVE, [c, c + [12, 0]])
    fast = engine.fast(request(1, full), lambda: False)
    assert np.array_equal(fast.tokens[i, 5:], full.tokens[i, 5:])  # colours frozen
    assert fast.tokens[i, MX] > full.tokens[i, MX] and fast.tokens[i, MY] == full.tokens[i, MY]
    assert np.array_equal(np.delete(fast.tokens, i, 0), np.delete(full.tokens, i, 0))
    assert not np.array_equal(fast.reconstruction, full.reconstruction)
