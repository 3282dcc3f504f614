"""The browser editor's keyboard shortcuts (the desktop window's keys), its lock / split / merge buttons, and
an upload over the websocket's limit stopped in the browser, in headless Chromium."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY
from gpstoken_studio.model.settings import Settings
from gpstoken_studio.web.server import websocket_limit
from web_helpers import browser, drag, expect_text, full_and_idle, open_tab, running_server, wait_for  # noqa: F401

pytestmark = pytest.mark.slow
IMAGE = "tests/golden/camera.png"
SETTINGS = Settings(tokens_per_tile=32, fit_steps=5, engine="fit", brush_radius=8.0)
MAX_UPLOAD = 64 * 1024


@pytest.fixture(scope="module")
def server():
    with running_server(IMAGE, settings=SETTINGS, max_upload=MAX_UPLOAD) as running:
        yield running


def largest(doc) -> int:
    return int(np.argmax(doc.plane.sigmas_px(doc.layout.geometry()).prod(axis=1)))


def test_keys_run_the_windows_actions_on_the_session(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    session = studio.session
    doc = session.document
    for key, mode in (("m", "move"), ("b", "brush"), ("h", "pan"), ("v", "select")):
        tab.keyboard.press(key)
        wait_for(lambda mode=mode: session.tools.mode.value == mode, 10, what=f"the {mode} tool after {key}")

    tab.keyboard.press("Control+a")
    live = doc.layout.live()
    wait_for(lambda: np.array_equal(doc.layout.selection(), live), 10, what="all selected")
    tab.keyboard.press("l")
    wait_for(lambda: (doc.layout.locks()[live] == LOCK_GEOMETRY).all(), 10, what="geometry locked")
    tab.keyboard.press("Shift+l")
    wait_for(lambda: (doc.layout.locks()[live] == LOCK_GEOMETRY | LOCK_FEATURES).all(), 10, what="features locked")
    tab.keyboard.press("Alt+l")
    wait_for(lambda: not doc.layout.locks().any(), 10, what="unlocked")
    tab.keyboard.press("Escape")
    wait_for(lambda: doc.layout.selection().size == 0, 10, what="nothing selected")

    row = largest(doc)
    drag(tab, [doc.plane.centers(doc.layout.geometry()[[row]])[0]] * 2)  # a click with the select tool
    wait_for(lambda: doc.layout.selection().tolist() == [row], 10, what="the clicked token selected")
    tab.keyboard.press("Delete")
    wait_for(lambda: doc.layout.deleted()[row], 10, what="the token deleted")
    tab.keyboard.press("Control+z")
    wait_for(lambda: not doc.layout.deleted()[row], 10, what="the delete undone")
    tab.keyboard.press("Control+Shift+z")
    wait_for(lambda: doc.layout.deleted()[row], 10, what="the delete redone")

    tab.keyboard.press("PageUp")
    wait_for(lambda: doc.settings.tokens_per_tile == 64 and full_and_idle(studio), 60, what="64 tokens per tile")
    assert len(doc.layout.live()) == 64 * doc.plane.num_tiles
    tab.keyboard.press("PageDown")
    wait_for(lambda: doc.settings.tokens_per_tile == 32 and full_and_idle(studio), 60, what="32 tokens per tile again")
    tab.keyboard.press("]")
    wait_for(lambda: doc.settings.brush_radius == pytest.approx(10.0), 10, what="a larger brush")
    tab.keyboard.press("[")
    wait_for(lambda: doc.settings.brush_radius == pytest.approx(8.0), 10, what="the brush back")
    tab.keyboard.press("1")
    wait_for(lambda: not session.layers["regions"] and "regions" not in studio.controls.layers.value, 10,
             what="the partition layer hidden, and its button off")

    tab.keyboard.press("Control+a")
    wait_for(lambda: doc.layout.selection().size == len(doc.layout.live()), 10, what="all selected")
    field = tab.locator(".gps-tokens input")
    field.press("Home")
    field.press("x")  # typed into a field: the keys are the field's (x is the delete tool's key)
    field.press("Delete")  # deletes the field's first digit, not the selected tokens
    field.blur()
    wait_for(lambda: doc.settings.tokens_per_tile == 2 and full_and_idle(studio), 60, what="the field's 2 tokens")
    assert session.tools.mode.value == "select" and len(doc.layout.live()) == 2 * doc.plane.num_tiles
    tab.keyboard.press("m")  # outside the field: the page's again
    wait_for(lambda: session.tools.mode.value == "move", 10, what="the move tool")
    tab.close()


def test_view_keys_zoom_the_views_and_switch_to_the_error_map(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    x = studio.canvas.x_range
    width = x.end - x.start
    tab.keyboard.press("Control+=")
    wait_for(lambda: x.end - x.start == pytest.approx(width / 1.25), 10, what="zoomed in")
    tab.keyboard.press("Control+-")
    tab.keyboard.press("Control+-")
    wait_for(lambda: x.end - x.start == pytest.approx(width * 1.25), 10, what="zoomed out twice")
    assert studio.result.figure.x_range is x  # the result view follows
    tab.keyboard.press("Control+0")
    wait_for(lambda: (x.start, x.end) == (x.reset_start, x.reset_end), 10, what="the whole image again")
    tab.keyboard.press("5")
    wait_for(lambda: studio.result.error_renderer.visible and not studio.result.recon_renderer.visible, 10,
             what="the error map")
    tab.keyboard.press("5")
    wait_for(lambda: studio.result.recon_renderer.visible, 10, what="the reconstruction again")
    tab.close()


def test_lock_split_and_merge_buttons(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    row = largest(doc)
    tab.get_by_role("button", name="select", exact=True).click()
    drag(tab, [doc.plane.centers(doc.layout.geometry()[[row]])[0]] * 2)
    wait_for(lambda: doc.layout.selection().tolist() == [row], 10, what="the clicked token selected")
    tab.locator(".gps-lock_geometry").get_by_role("button").click()
    wait_for(lambda: doc.layout.locks()[row] == LOCK_GEOMETRY, 10, what="the token's geometry locked")
    tab.locator(".gps-split").get_by_role("button").click()  # locked geometry: refused, with the reason
    expect_text(tab, ".gps-error", "geometry is locked")
    tab.locator(".gps-unlock").get_by_role("button").click()
    wait_for(lambda: doc.layout.locks()[row] == 0, 10, what="unlocked")

    n, region = len(doc.layout), doc.layout.rows(np.array([row])).regions[0].copy()
    tab.locator(".gps-split").get_by_role("button").click()
    wait_for(lambda: len(doc.layout) == n + 1 and doc.layout.selection().tolist() == [row, n], 10, what="the split")
    halves = doc.layout.rows(np.array([row, n])).regions
    assert halves[:, 0].min() == region[0] and halves[:, 2].max() == region[2]
    assert halves[:, 1].min() == region[1] and halves[:, 3].max() == region[3]
    tab.locator(".gps-merge").get_by_role("button").click()
    wait_for(lambda: doc.layout.deleted()[n] and doc.layout.selection().tolist() == [row], 10, what="the merge")
    np.testing.assert_array_equal(doc.layout.rows(np.array([row])).regions[0], region)
    wait_for(lambda: full_and_idle(studio), 60, what="the result after the merge")
    tab.close()


def test_an_upload_over_the_websocket_limit_is_stopped_in_the_browser(browser, server, tmp_path):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\0" * (websocket_limit(MAX_UPLOAD) + 2**20))  # sent, it would close the connection
    tab.locator(".gps-upload input[type=file]").set_input_files(str(huge))
    expect_text(tab, ".gps-error", "huge.png: 21.0 MiB is over the 64.0 KiB upload limit")
    assert studio.session.document is doc
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(small)
    tab.locator(".gps-upload input[type=file]").set_input_files(str(small))  # the connection still works
    wait_for(lambda: studio.session.document.image_size == (40, 48), 30, what="the next upload")
    tab.close()
