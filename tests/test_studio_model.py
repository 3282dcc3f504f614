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
from gpstoken_studio.model.region_edits import merge_regions, split_region
from gpstoken_studio.tools import TOOLS, Mode, PointerEvent, ToolOverlay
from gpstoken_studio.tools.handles import MIN_SIGMA_PX, dragged_geometry, handle_points

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
        "import gpstoken_studio.model.region_edits, gpstoken_studio.tools.handles, gpstoken_studio.main\n"
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


def test_a_token_count_is_one_composite_step_and_undoes_exactly(doc):
    layout0 = doc.layout.state()
    doc.history.push(commands.set_token_count(doc, 100))
    assert len(doc.history) == 1 and len(doc.layout) == 100 and doc.settings.tokens_per_tile == 100
    assert [type(part).__name__ for part in doc.history._stack[0][0].parts] == ["ChangeSettings", "ReplaceLayout"]
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


def test_merging_two_partition_siblings_gives_their_parent_and_splitting_the_parent_gives_them(camera):
    d = Document(camera, Settings(tokens_per_tile=24))
    for n in range(24, 64):  # partition(n) is partition(n - 1) with one region split: find a non-square one
        coarse, fine = d.partition(tokens_per_tile=n - 1), d.partition(tokens_per_tile=n)
        old = {tuple(r) for r in coarse.regions.tolist()}
        new = {tuple(r) for r in fine.regions.tolist()}
        (parent,), kids = old - new, sorted(new - old)
        if parent[2] - parent[0] != parent[3] - parent[1]:
            break
    d.reset_layout(fine)
    rows = [fine.regions.tolist().index(list(k)) for k in kids]
    cmd = merge_regions(d, rows)
    d.history.push(cmd)
    keep = int(cmd.indices[0])
    p = coarse.regions.tolist().index(list(parent))
    assert d.layout.regions()[keep].tolist() == list(parent)
    assert np.array_equal(d.layout.geometry()[keep], coarse.geometry[p])  # bit-exact: the partition's g_init
    assert d.layout.deleted().sum() == 1 and len(d.layout.live()) == n - 1

    d.reset_layout(coarse)
    d.history.push(split_region(d, [p]))
    halves_now = sorted(map(tuple, d.layout.regions()[[p, n - 1]].tolist()))
    assert halves_now == kids  # the split is the partition's split
    assert np.array_equal(d.layout.geometry()[[p, n - 1]], d.plane.g_init(d.layout.regions()[[p, n - 1]]))
    d.history.undo()
    assert d.layout.state().equals(coarse)


def test_split_and_merge_refuse_with_a_reason(doc):
    from gpstoken.errors import GPSTokenError

    for rows, message in (([], "exactly one"), ([0, 1], "exactly one")):
        with pytest.raises(GPSTokenError, match=message):
            split_region(doc, rows)
    with pytest.raises(GPSTokenError, match="exactly two"):
        merge_regions(doc, [0])
    r = doc.layout.regions()
    far = int(np.argmax(np.hypot(*(r[:, :2] - r[0, :2]).T)))
    with pytest.raises(GPSTokenError, match="whole side"):
        merge_regions(doc, [0, far])
    doc.history.push(commands.set_locks(doc, [0], LOCK_GEOMETRY, True))
    with pytest.raises(GPSTokenError, match="locked"):
        split_region(doc, [0])
    small = Document(doc.image, Settings(tokens_per_tile=1024))
    small.reset_layout(small.partition())
    with pytest.raises(GPSTokenError, match="too small"):
        split_region(small, [0])


@pytest.mark.parametrize("kind", ["major", "minor", "rotate"])
def test_a_handle_changes_only_its_own_parameter(doc, kind):
    e = doc.plane.ellipses(doc.layout.geometry())
    i = int(np.flatnonzero(e[:, 2] > 1.5 * e[:, 3])[0])
    g0 = doc.layout.rows([i]).geometry
    cx, cy, a, b, theta = doc.plane.ellipses(g0)[0]
    start = handle_points(doc, i, 1.0)[kind]
    c = np.array([cx, cy])
    end = c + 1.5 * (start - c) if kind != "rotate" else c + np.array([[0.0, -1.0], [1.0, 0.0]]) @ (start - c)
    g1 = dragged_geometry(doc, g0, kind, start, end)
    e1 = doc.plane.ellipses(g1)[0]
    assert np.array_equal(g1[0, 3:5], g0[0, 3:5])
    expect = {"major": (1.5 * a, b, theta), "minor": (a, 1.5 * b, theta), "rotate": (a, b, theta + np.pi / 2)}[kind]
    if kind == "minor" and 1.5 * b > a:  # the minor axis became the longer one: a and b swap, theta turns
        expect = (1.5 * b, a, theta + np.pi / 2)
    turn = (e1[4] - expect[2] + np.pi / 2) % np.pi - np.pi / 2
    assert e1[2] == pytest.approx(expect[0], rel=1e-5) and e1[3] == pytest.approx(expect[1], rel=1e-5)
    assert abs(turn) < 1e-5
    squashed = dragged_geometry(doc, g0, "minor", start, c)  # dragged onto the centre: clamped, still valid
    assert doc.plane.ellipses(squashed)[0, 3] == pytest.approx(MIN_SIGMA_PX, rel=1e-4)


def test_default_engine_is_the_model_when_a_default_checkpoint_exists(monkeypatch, tmp_path):
    from gpstoken.errors import GPSTokenError
    from gpstoken_studio.main import choose_engine

    ckpt = tmp_path / "m.safetensors"
    ckpt.write_bytes(b"x")
    monkeypatch.setenv("GPSTOKEN_MODEL", str(ckpt))
    assert choose_engine(None, None) == ("model", str(ckpt))
    assert choose_engine("fit", None) == ("fit", str(ckpt))  # the tool bar can still switch to it
    assert choose_engine(None, "other.safetensors") == ("model", "other.safetensors")
    monkeypatch.setenv("GPSTOKEN_MODEL", str(tmp_path / "missing.safetensors"))
    assert choose_engine(None, None) == ("fit", None)  # no checkpoint anywhere: fitting
    with pytest.raises(GPSTokenError, match="GPSTOKEN_MODEL"):
        choose_engine("model", None)


def test_a_live_preview_layout_is_not_an_edit(doc):
    start, revision = doc.layout.state(), doc.revision
    changes = []
    doc.layout.changed.connect(lambda ch: changes.append((ch.action, ch.final)))
    doc.preview(commands.replace_layout(doc, doc.partition(tokens_per_tile=80), "Preview"))
    assert len(doc.layout) == 80 and changes == [("replace", False)] and doc.revision == revision + 1
    assert len(doc.history) == 0 and not start.equals(doc.layout.state())
    assert doc.committed_layout().equals(start)
    doc.cancel_preview()
    assert doc.layout.state().equals(start) and changes[-1] == ("replace", True)


def test_an_edit_recorded_after_its_previews_undoes_to_where_the_previews_began(doc):
    start = doc.layout.state()
    for n in (70, 90):
        doc.request_relayout("Token count", settings={"tokens_per_tile": n}, preview=True)
    assert len(doc.layout) == 90 and doc.settings.tokens_per_tile == 64 and len(doc.history) == 0
    doc.request_relayout("Token count", settings={"tokens_per_tile": 100})
    assert len(doc.history) == 1 and len(doc.layout) == 100 and doc.settings.tokens_per_tile == 100
    doc.history.undo()
    assert doc.settings.tokens_per_tile == 64 and doc.layout.state().equals(start)


def test_a_repartition_keeps_the_locks_of_regions_it_leaves_unchanged(doc):
    from gpstoken_studio.model.layout import LOCK_FEATURES

    doc.history.push(commands.set_locks(doc, np.arange(len(doc.layout)), LOCK_FEATURES, True))
    before = doc.layout.state()
    doc.history.push(commands.set_token_count(doc, 70))
    after = doc.layout.state()
    old_boxes = {tuple(r) for r in before.regions}
    kept = np.array([tuple(r) in old_boxes for r in after.regions])
    assert 0 < kept.sum() < len(after)  # some regions survive the count change, some are new
    assert (after.locks[kept] == LOCK_FEATURES).all() and (after.locks[~kept] == 0).all()
    doc.history.undo()
    assert doc.layout.state().equals(before)


def test_a_brush_stroke_keeps_locks_of_regions_it_does_not_touch(doc):
    far = np.flatnonzero(doc.plane.centers(doc.layout.geometry())[:, 1] < 60)
    doc.history.push(commands.set_locks(doc, far, LOCK_GEOMETRY, True))
    locked_boxes = {tuple(r) for r in doc.layout.regions()[far]}
    run_drag(doc, Mode.BRUSH, [(10, 220), (120, 220), (245, 220)])
    after = doc.layout.state()
    still = np.array([tuple(r) in locked_boxes for r in after.regions])
    # at a fixed count the stroke takes tokens from elsewhere too: only the surviving regions keep locks
    assert still.any() and (after.locks[still] == LOCK_GEOMETRY).all() and (after.locks[~still] == 0).all()


def test_remapped_results_follow_unchanged_regions_to_their_new_rows(doc):
    from gpstoken_studio.model.result import Result, remap_result

    g = doc.layout.geometry()
    tokens = np.concatenate([g, np.arange(len(g), dtype=np.float32)[:, None].repeat(3, 1)], axis=1)
    result = Result(revision=0, path="full", engine="fit", rows=np.arange(len(g)), g_init=g, tokens=tokens,
                    reconstruction=np.zeros(doc.image_size + (3,), np.float32))
    doc.history.push(commands.set_token_count(doc, 70))
    new = doc.layout.geometry()
    moved = remap_result(result, new)
    old_index = {row.tobytes(): i for i, row in enumerate(g)}
    expect = [(r, old_index[row.tobytes()]) for r, row in enumerate(new) if row.tobytes() in old_index]
    assert moved.rows.tolist() == [r for r, _ in expect]
    assert moved.tokens[:, 5].tolist() == [float(i) for _, i in expect]
    assert remap_result(result, new[:0]) is None and remap_result(None, new) is None


def test_accepting_a_candidate_swaps_image_and_layout_in_one_undo_step_and_saves_the_sketch_flag(tmp_path):
    blank = np.full((256, 256, 3), 128, np.uint8)
    doc = Document(blank, Settings(tokens_per_tile=32), sketch=True)
    seen = []
    doc.events.image.connect(lambda image: seen.append(int(image[0, 0, 0])))
    layout = Document(load_image(GOLDEN / "camera.png"), Settings(tokens_per_tile=32)).partition()
    generated = np.full((256, 256, 3), 40, np.uint8)
    doc.history.push(commands.accept_candidate(doc, generated, layout))
    assert not doc.sketch and (doc.image == 40).all() and doc.layout.state().equals(layout)
    path = tmp_path / "accepted.gpsproj"
    save_project(snapshot(doc), path)
    assert not load_project(path).sketch and (load_project(path).image == 40).all()
    doc.history.undo()
    assert doc.sketch and (doc.image == 128).all() and len(doc.layout) == 0 and seen == [40, 128]
    save_project(snapshot(doc), path)
    assert load_project(path).sketch
    with pytest.raises(ValueError, match="must be"):
        doc.set_image(np.zeros((8, 8, 3), np.uint8), sketch=False)
