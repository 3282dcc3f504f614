"""The browser editor's pure parts, without a browser: access policy, the root-confined file browser,
upload decoding and the pointer bridge."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from gpstoken.errors import GPSTokenError
from gpstoken_studio.web.access import is_loopback, new_token, page_url, token_matches
from gpstoken_studio.web.files import FileRoot, decode_upload


def png_bytes(h: int = 24, w: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)).save(buf, format="PNG")
    return buf.getvalue()


# --- access ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True), ("127.0.0.2", True),
                                            ("0.0.0.0", False), ("", False), ("192.168.1.5", False), ("example.org", False)])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_tokens_are_random_and_compared_exactly():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 32
    assert token_matches(a, a) and not token_matches(a, b) and not token_matches(a, None) and not token_matches(a, a[:-1])


def test_page_url_carries_the_token_only_when_there_is_one():
    assert page_url("127.0.0.1", 8765, None) == "http://localhost:8765/"
    assert page_url("0.0.0.0", 9000, "tok") == "http://0.0.0.0:9000/?token=tok"


# --- the root folder ------------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.png").write_bytes(png_bytes())
    (root / "notes.txt").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes())
    os.symlink(outside, root / "link_out")
    os.symlink(outside / "secret.png", root / "secret.png")
    os.symlink(root / "sub", root / "link_in")
    return root


def test_paths_inside_the_root_resolve(tree):
    r = FileRoot(tree)
    assert r.resolve("sub/a.png") == (tree / "sub" / "a.png").resolve()
    assert r.resolve("link_in/a.png") == (tree / "sub" / "a.png").resolve()  # a link that stays inside is fine
    assert r.resolve("") == tree.resolve()


@pytest.mark.parametrize("path, why", [("../outside/secret.png", "'..'"), ("sub/../../outside", "'..'"),
                                       ("/etc/passwd", "absolute"), ("\\etc\\passwd", "absolute"),
                                       ("C:/Windows", "absolute"), ("link_out/secret.png", "outside the root"),
                                       ("secret.png", "outside the root")])
def test_paths_out_of_the_root_are_refused(tree, path, why):
    with pytest.raises(GPSTokenError, match=why):
        FileRoot(tree).resolve(path)


def test_listing_shows_folders_then_images_and_hides_links_out(tree):
    entries = FileRoot(tree).listing()
    assert [(e.path, e.folder) for e in entries] == [("link_in", True), ("sub", True)]
    assert [(e.path, e.folder) for e in FileRoot(tree).listing("sub")] == [("sub/a.png", False)]


def test_root_must_be_a_folder(tmp_path):
    with pytest.raises(GPSTokenError, match="not a folder"):
        FileRoot(tmp_path / "missing")


# --- uploads --------------------------------------------------------------------------------------

def test_upload_decodes_like_the_command_line():
    image = decode_upload(png_bytes(24, 32), "x.png")
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [0, 1, 2]


def test_upload_over_the_bound_is_refused_before_decoding():
    with pytest.raises(GPSTokenError, match=r"x.png: .* KiB is over the 0.1 KiB upload limit"):
        decode_upload(png_bytes(), "x.png", max_bytes=100)


@pytest.mark.parametrize("data, name, why", [(b"not an image", "x.png", "x.png: not a readable image"),
                                             (png_bytes(), "x.exe", "not an image file")])
def test_bad_uploads_are_one_line_errors(data, name, why):
    with pytest.raises(GPSTokenError, match=why):
        decode_upload(data, name)


def test_upload_over_the_pixel_limit_is_refused(monkeypatch):
    monkeypatch.setenv("GPSTOKEN_MAX_PIXELS", "100")
    with pytest.raises(GPSTokenError, match="pixel"):
        decode_upload(png_bytes(24, 32), "big.png")


# --- the pointer bridge ---------------------------------------------------------------------------

@pytest.fixture
def doc():
    from gpstoken_studio.model.document import Document
    from gpstoken_studio.model.settings import Settings

    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    d = Document(image, Settings(tokens_per_tile=8, engine="fit"))
    d.reset_layout(d.partition())
    return d


def bridge_on(doc, mode):
    from gpstoken_studio.tools.driver import ToolDriver
    from gpstoken_studio.web.pointer import PointerBridge

    driver = ToolDriver()
    driver.set_document(doc)
    driver.set_mode(mode)
    return PointerBridge(driver, lambda: 0.5)


def test_modifiers_map_to_the_tools_names():
    from gpstoken_studio.web.pointer import modifier_set

    assert modifier_set({"shift": True, "ctrl": True, "alt": False}) == frozenset({"shift", "control"})
    assert modifier_set(None) == frozenset()


def test_a_pan_gesture_moves_the_token_under_it(doc):
    row = 0
    x, y = doc.plane.centers(doc.layout.geometry()[[row]])[0]
    bridge = bridge_on(doc, "move")
    assert bridge.gesture("panstart", x, y, {})
    assert bridge.gesture("pan", x + 3, y + 2, {})
    assert bridge.gesture("panend", x + 5, y + 4, {})
    moved = doc.plane.centers(doc.layout.geometry()[[row]])[0]
    np.testing.assert_allclose(moved, [x + 5, y + 4], atol=1e-3)
    assert doc.history.undo() and np.allclose(doc.plane.centers(doc.layout.geometry()[[row]])[0], [x, y], atol=1e-3)


def test_a_tap_selects_and_pan_mode_leaves_the_document_alone(doc):
    x, y = doc.plane.centers(doc.layout.geometry()[[2]])[0]
    assert bridge_on(doc, "select").gesture("tap", x, y, {})
    assert doc.layout.selection().tolist() == [2]
    before = doc.layout.geometry()
    pan = bridge_on(doc, "pan")
    assert not pan.gesture("panstart", x, y, {}) and not pan.gesture("panend", x + 9, y, {})
    assert np.array_equal(before, doc.layout.geometry())


# --- the command line -----------------------------------------------------------------------------

def test_the_web_path_imports_no_qt_and_no_vispy():
    import subprocess
    import sys

    code = ("import sys, gpstoken_studio.main, gpstoken_studio.web.server, gpstoken_studio.web; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'vispy', 'shiboken6'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


def test_web_with_a_missing_root_is_a_one_line_error(tmp_path, capsys):
    from gpstoken_studio.main import main

    assert main(["--web", "--engine", "fit", "--port", "0", "--root", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"gpstoken-studio: --root {tmp_path / 'nowhere'}: not a folder"


# --- the training panel's folders -----------------------------------------------------------------

def test_training_folders_stay_under_the_root_and_start_nothing_otherwise(tree):
    from gpstoken_studio.session import Session
    from gpstoken_studio.web.training_panel import TrainingPanel

    session = Session()
    try:
        panel = TrainingPanel(session, FileRoot(tree))
        panel.data.value, panel.out.value = "sub", "../runs/x"
        panel.start()
        assert panel.status.object == "Output folder: ../runs/x: '..' is refused (paths stay inside the root folder)"
        panel.out.value = "/tmp/run"
        panel.attach()
        assert "absolute paths are refused" in panel.status.object
        assert session.training.run is None and not (tree.parent / "runs").exists()
        no_root = TrainingPanel(session, None)
        assert no_root.status.object.startswith("Training needs the server's --root")
        assert all(b.disabled for b in no_root.buttons if hasattr(b, "clicks"))
    finally:
        session.shutdown()


# --- in a notebook ----------------------------------------------------------------------------------

def test_outside_a_server_the_page_polls_its_session(monkeypatch):
    import panel as pn

    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.web import studio
    from gpstoken_studio.web.page import POLL_MS, StudioPage

    # no document, as in a plain kernel (Panel falls back to Bokeh's current document, which a server started by an
    # earlier test in this process leaves behind)
    monkeypatch.setattr(type(pn.state), "curdoc", property(lambda self: None))
    assert isinstance(studio(None, engine="fit"), pn.Row)  # what a notebook cell shows
    page = StudioPage("tests/golden/camera.png", settings=Settings(tokens_per_tile=16, fit_steps=2, engine="fit"))
    try:
        assert page._poll is not None and page._poll.period == POLL_MS and page.waker.doc is None
        assert not page.keys.everywhere and page.keys.scope in page.layout.css_classes  # keys after a click in it
        assert page.session.wait_idle(120)
        doc = page.session.document
        assert doc.image_size == (256, 256) and doc.result is not None and doc.result.revision == doc.revision
        assert len(page.canvas.ginit.data["x"]) == len(doc.layout)
        assert f"revision {doc.revision}/{doc.revision}" in page.result.metrics.object
    finally:
        page.close()


# --- the canvas follows the document ----------------------------------------------------------------

def test_the_canvas_shows_a_stroke_by_patches_and_its_undo():
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.session import Session
    from gpstoken_studio.web import glyphs
    from gpstoken_studio.web.canvas import Canvas

    session = Session(Settings(tokens_per_tile=16, engine="fit", fit_steps=1))
    try:
        canvas = Canvas(session)
        session.open_array(np.random.default_rng(1).integers(0, 255, (64, 80, 3), dtype=np.uint8), "noise.png")
        assert session.wait_idle(120)
        doc = session.document
        shown = lambda: np.asarray(canvas.density.data["image"][0])  # noqa: E731
        blank = shown().copy()
        session.tools.set_mode("brush")
        for kind, x in (("panstart", 20), ("pan", 30), ("panend", 40)):
            canvas.bridge.gesture(kind, x, 30, {})
        assert session.wait_idle(120) and doc.bias.painted()
        assert np.array_equal(shown(), glyphs.density_image(doc.bias.values())) and not np.array_equal(shown(), blank)
        assert len(canvas.ginit.data["x"]) == len(doc.layout) and canvas.regions.data["width"][0] > 0
        session.undo()
        assert session.wait_idle(120) and np.array_equal(shown(), blank)
    finally:
        session.shutdown()


def test_the_error_view_adapts_its_scale_or_keeps_the_fixed_one():
    from gpstoken_studio import style
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.session import Session
    from gpstoken_studio.web.canvas import Canvas
    from gpstoken_studio.web.result_view import VIEWS, ResultView

    session = Session(Settings(tokens_per_tile=16, engine="fit", fit_steps=1))
    try:
        view = ResultView(session, Canvas(session))
        session.open_array(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8), "noise.png")
        assert session.wait_idle(120)
        error = style.error_map(session.document.image, session.document.result.reconstruction)
        view.toggle_error()
        assert view.choice.value == VIEWS[1] and view.error_renderer.visible and view.colorbar.visible
        top = float(np.percentile(error, style.ADAPTIVE_PERCENTILE))
        assert (view.mapper.low, view.mapper.high) == pytest.approx((0.0, top)) and top != style.ERROR_SCALE[1]
        assert np.array_equal(view.error.data["image"][0], error)
        view.choice.value = VIEWS[2]
        assert (view.mapper.low, view.mapper.high) == style.ERROR_SCALE
        view.toggle_error()
        assert view.recon_renderer.visible and not view.colorbar.visible
    finally:
        session.shutdown()


def test_an_adaptive_error_scale_has_a_floor():
    from gpstoken_studio import style

    assert style.error_scale(np.zeros((4, 4), np.float32), fixed=False) == (0.0, style.MIN_ADAPTIVE_TOP)
    assert style.error_scale(np.ones((4, 4), np.float32), fixed=True) == style.ERROR_SCALE


# --- keys -------------------------------------------------------------------------------------------

def test_key_combinations_have_one_spelling_and_the_windows_tool_keys():
    from gpstoken_studio.tools.base import Mode
    from gpstoken_studio.web.keys import KEYS, canonical
    from gpstoken_studio.actions import TOOL_KEYS

    assert canonical("shift+ctrl+z") == canonical("Ctrl+Shift+Z") == "Ctrl+Shift+Z"
    assert canonical("alt+l") == "Alt+L" and canonical("PgUp") == "PgUp" and canonical("[") == "["
    with pytest.raises(ValueError):
        canonical("Hyper+Z")
    assert {KEYS[key] for key in TOOL_KEYS.values()} == {f"tool_{m.value}" for m in Mode}
    assert KEYS["Ctrl+Z"] == "undo" and KEYS["Delete"] == "delete" and KEYS["Alt+L"] == "unlock"


def test_keys_act_on_the_session_and_unknown_ones_do_nothing():
    from gpstoken_studio.model.layout import LOCK_FEATURES
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.session import Session
    from gpstoken_studio.web.keys import press

    session = Session(Settings(tokens_per_tile=16, engine="fit", fit_steps=1, brush_radius=500.0))
    try:
        session.open_array(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8), "noise.png")
        assert session.wait_idle(120)
        doc = session.document
        assert press(session, "e") and session.tools.mode.value == "eraser"
        assert press(session, "]") and doc.settings.brush_radius == 512.0  # clamped like the window's
        session.select([3])
        assert press(session, "shift+l") and doc.layout.locks().tolist() == [0] * 3 + [LOCK_FEATURES] + [0] * 12
        assert press(session, "alt+l") and not doc.layout.locks().any()
        n = len(doc.layout)
        assert press(session, "s") and len(doc.layout) == n + 1 and doc.layout.selection().tolist() == [3, n]
        assert press(session, "g") and len(doc.layout.live()) == n
        assert not press(session, "Ctrl+K") and not press(session, "Hyper+Z")
        assert press(session, "PgUp") and session.wait_idle(120) and doc.settings.tokens_per_tile == 32
    finally:
        session.shutdown()


def test_the_generate_panel_offers_the_bundled_sets_and_shows_a_sets_sampling_recipe():
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.session import Session
    from gpstoken_studio.web.generate_panel import GeneratePanel

    session = Session(Settings(engine="fit"))
    try:
        panel = GeneratePanel(session)
        assert panel.model_set.options == ["tiny", "emoji"]
        assert session.generation.use_set("emoji")
        assert (panel.sampler.value, panel.steps.value, panel.cfg.value) == ("euler", 25, 3.0)
        assert session.generation.form.cfg_scale == 3.0
        assert session.generation.use_set("tiny")
        assert (panel.sampler.value, panel.cfg.value) == ("ode", 1.0)
    finally:
        session.shutdown()
