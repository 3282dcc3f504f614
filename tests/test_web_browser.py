"""The browser editor in headless Chromium (Playwright): every tab gets its own Session, and what the
page shows is checked against that session's numbers."""
from __future__ import annotations

import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from gpstoken_studio.model.settings import Settings
from web_helpers import (TO_SCREEN, browser, drag, expect_text, full_and_idle, open_tab, running_server,  # noqa: F401
                         source_length, text_of, wait_for)

pytestmark = pytest.mark.slow

IMAGE = "tests/golden/camera.png"
SETTINGS = Settings(tokens_per_tile=32, fit_steps=5, engine="fit")
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    (root / "inside.png").write_bytes(open(IMAGE, "rb").read())
    with running_server(IMAGE, settings=SETTINGS, root=str(root), max_upload=64 * 1024) as running:
        yield running


def test_drag_a_gaussian_then_undo(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    first = doc.result
    expect_text(tab, ".gps-metrics", f"PSNR {first.metrics['psnr']:.2f} dB")
    expect_text(tab, ".gps-metrics", f"revision {doc.revision}/{doc.revision}")
    row = int(np.argmax(doc.plane.sigmas_px(doc.layout.geometry()).prod(axis=1)))  # the largest: easy to hit
    before = doc.layout.geometry()
    x, y = doc.plane.centers(before[[row]])[0]
    tab.get_by_role("button", name="move", exact=True).click()
    steps = len(doc.history)
    drag(tab, [(x, y), (x + 10, y + 6), (x + 20, y + 12)])
    # The release records one step; before it lands, an idle pipeline may show a preview of an earlier pan.
    wait_for(lambda: len(doc.history) > steps and full_and_idle(studio) and doc.result is not first,
             what="the reconstruction after the drag")
    moved = doc.plane.centers(doc.layout.geometry()[[row]])[0]
    assert np.hypot(*(moved - [x + 20, y + 12])) < 2.0  # screen pixels round to about a plane pixel
    assert not np.array_equal(doc.result.reconstruction, first.reconstruction)
    expect_text(tab, ".gps-metrics", f"PSNR {doc.result.metrics['psnr']:.2f} dB")
    expect_text(tab, ".gps-metrics", f"revision {doc.revision}/{doc.revision}")
    tab.get_by_role("button", name="Undo").click()
    wait_for(lambda: np.array_equal(doc.layout.geometry(), before) and full_and_idle(studio), what="undo")
    expect_text(tab, ".gps-metrics", f"revision {doc.revision}/{doc.revision}")
    tab.close()


def test_painting_density_raises_the_token_count_in_the_region(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    tab.locator(".gps-region-source").get_by_role("button", name="painted").click()
    box = (150, 150, 230, 230)  # a corner of grass and sky: few tokens before painting

    def in_box() -> int:
        c = doc.plane.centers(doc.layout.rows(doc.layout.live()).geometry)
        return int(((c[:, 0] >= box[0]) & (c[:, 0] <= box[2]) & (c[:, 1] >= box[1]) & (c[:, 1] <= box[3])).sum())

    start = in_box()
    tab.get_by_role("button", name="brush", exact=True).click()
    ys = range(box[1] + 10, box[3] - 5, 12)
    for y in ys:
        drag(tab, [(box[0] + 5, y), (box[2] - 5, y)], steps=4)
    wait_for(lambda: full_and_idle(studio) and doc.bias.painted(), what="the re-partition after painting")
    assert in_box() > start

    def shown() -> bool:  # the page shows the newest report of the painted region
        r = studio.analytics.analytics.after
        return r is not None and f"after: {r.tokens} of {r.total_tokens} tokens" in text_of(tab, ".gps-region")

    wait_for(shown, what="the painted region's report on the page")
    report = studio.analytics.analytics.after
    assert report.source == "painted" and report.tokens >= 1 and report.area_share > 0
    tab.close()


def test_tabs_have_their_own_sessions_and_one_failing_spares_the_other(browser, server):
    url, pages, _ = server
    tab_a, a = open_tab(browser, url, pages)
    tab_b, b = open_tab(browser, url, pages)
    assert a.session is not b.session and a.session.document is not b.session.document

    class Broken:
        name = "fit"

        def full(self, *args):
            raise RuntimeError("engine exploded")
        fast = full

    a.session.pipeline.engine = Broken()
    tab_a.get_by_role("button", name="Rerun").click()
    expect_text(tab_a, ".gps-status", "full failed: RuntimeError: engine exploded")
    doc = b.session.document
    rev = doc.revision
    x, y = doc.plane.centers(doc.layout.geometry()[[0]])[0]
    tab_b.get_by_role("button", name="move", exact=True).click()
    drag(tab_b, [(x, y), (x + 8, y + 8)])
    wait_for(lambda: doc.revision > rev and full_and_idle(b), what="tab B's result after tab A failed")
    expect_text(tab_b, ".gps-metrics", f"revision {doc.revision}/{doc.revision}")
    tab_a.close()
    tab_b.close()


def test_uploads_open_images_and_oversized_ones_are_refused(browser, server, tmp_path):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    small = tmp_path / "small.png"
    Image.fromarray(np.full((40, 48, 3), 128, np.uint8)).save(small)
    tab.locator(".gps-upload input[type=file]").set_input_files(str(small))
    wait_for(lambda: studio.session.document.image_size == (40, 48), what="the uploaded image")
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(big)
    assert big.stat().st_size > 64 * 1024
    doc = studio.session.document
    tab.locator(".gps-upload input[type=file]").set_input_files(str(big))
    expect_text(tab, ".gps-error", "over the 64.0 KiB upload limit")
    assert studio.session.document is doc
    tab.close()


def test_the_file_browser_stays_in_its_root(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    path = tab.locator(".gps-path input")
    for outside, why in (("../inside.png", "'..' is refused"), ("/etc/passwd", "absolute paths are refused")):
        path.fill(outside)
        tab.get_by_role("button", name="Open", exact=True).click()
        expect_text(tab, ".gps-error", why)
        assert studio.session.document is doc
    path.fill("inside.png")
    tab.get_by_role("button", name="Open", exact=True).click()
    wait_for(lambda: studio.session.document is not doc, what="the image inside the root")
    tab.close()


def test_a_token_is_required_beyond_loopback(browser):
    with running_server(IMAGE, settings=SETTINGS, token="s3cret") as (url, pages, _):
        bare = url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bare)
        assert refused.value.code == 403
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(bare + "?token=wrong")
        assert websocket_refused(bare.replace("http://", "ws://") + "ws")
        tab = browser.new_page()
        assert tab.goto(bare).status == 403
        assert tab.goto(url).status == 200
        wait_for(lambda: pages and full_and_idle(pages[0]), what="the editor behind the token")
        expect_text(tab, ".gps-metrics", "PSNR")
        tab.close()


def websocket_refused(url: str) -> bool:
    """A websocket to ``url`` without the token's cookie is refused or closed before any message."""
    import asyncio
    import concurrent.futures

    from tornado.httpclient import HTTPClientError
    from tornado.websocket import websocket_connect

    async def attempt():
        try:
            conn = await websocket_connect(url)
        except (HTTPClientError, OSError):
            return True
        message = await conn.read_message()
        conn.close()
        return message is None

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop runs on this thread
        return pool.submit(asyncio.run, attempt()).result(60)


def test_loopback_is_the_default(browser):
    from gpstoken_studio.main import build_parser

    assert build_parser().parse_args(["--web"]).host == "127.0.0.1"
    with running_server(IMAGE, settings=SETTINGS) as (url, pages, server):
        assert "token" not in url
        assert server.address == "127.0.0.1"
        assert urllib.request.urlopen(url).status == 200


def test_generate_a_candidate_and_accept_it(browser):
    from gpstoken.models.default_model import default_model_path

    with running_server(IMAGE, settings=SETTINGS, model=str(default_model_path())) as (url, pages, _):
        tab, studio = open_tab(browser, url, pages)
        gen = studio.session.generation
        tab.locator(".bk-tab", has_text="Generate").click()
        tab.get_by_role("button", name="Load", exact=True).click()
        wait_for(lambda: gen.generators is not None, what="the bundled generators")
        expect_text(tab, ".gps-gen-status", "Generators ready")
        gen.form.sampler, gen.form.steps, gen.form.count = "euler", 4, 2  # quick samples on this CPU
        tab.get_by_role("button", name="Blank canvas").click()
        wait_for(lambda: studio.session.document.sketch, what="the blank canvas")
        doc = studio.session.document
        tab.get_by_role("button", name="Sample layout").click()
        wait_for(lambda: len(doc.layout) > 0 and gen.idle and not gen.running, 180, what="the sampled layout")
        tab.get_by_role("button", name="Generate", exact=True).click()
        wait_for(lambda: len(gen.candidates) == 2 and not gen.running and gen.staged == 1, 240, what="two candidates")
        staged = gen.candidates[1].image
        wait_for(lambda: staged_shown(tab), what="the staged candidate over the reconstruction")
        expect_text(tab, ".gps-staged-title", f"Candidate {gen.names[1]}")
        over = result_pixels(tab)
        tab.locator(".gps-gen-discard").nth(1).click()
        wait_for(lambda: not staged_shown(tab) and len(gen.candidates) == 1, what="the discarded candidate gone")
        under = result_pixels(tab)
        target = np.asarray(Image.fromarray(staged).resize(over.shape[1::-1], Image.BILINEAR), np.float32)
        assert over.shape[:2] == (620, 620)  # the whole view
        assert np.abs(over - under).mean() > 10  # the candidate covered the reconstruction
        assert np.abs(over - target).mean() < 0.5 * np.abs(under - target).mean()  # and it was the candidate
        candidate = gen.candidates[0]
        tab.locator(".gps-gen-stage").first.click()
        wait_for(lambda: staged_shown(tab), what="the first candidate staged")
        tab.locator(".gps-gen-accept").first.click()
        wait_for(lambda: not doc.sketch and np.array_equal(doc.image, candidate.image) and not gen.candidates,
                 what="the accepted candidate, gone from the strip")
        wait_for(lambda: not staged_shown(tab), what="nothing staged over the reconstruction")
        wait_for(lambda: full_and_idle(studio), 180, what="the model's reconstruction of the accepted image")
        assert doc.result.engine == "model"
        expect_text(tab, ".gps-metrics", f"model (full) · {len(doc.result.rows)} tokens")
        tab.close()


def staged_shown(tab) -> bool:
    return tab.evaluate("() => Bokeh.documents[0].get_model_by_name('gps-staged').visible")


def result_pixels(tab) -> np.ndarray:
    """The right view's pixels as the browser shows them, float32 [H, W, 3]."""
    import io

    box = tab.evaluate("""() => {
      const fig = Bokeh.documents[0].get_model_by_name('result');
      const view = [...Bokeh.index.query((v) => v.model === fig)][0];
      view.canvas_view.el.scrollIntoView();
      const r = view.canvas_view.el.getBoundingClientRect();
      return {x: r.left + view.frame.bbox.left, y: r.top + view.frame.bbox.top, width: view.frame.bbox.width,
              height: view.frame.bbox.height};
    }""")
    tab.wait_for_timeout(200)  # the next frame is painted
    return np.asarray(Image.open(io.BytesIO(tab.screenshot(clip=box))).convert("RGB"), np.float32)


def test_reshape_a_gaussian_by_its_handle(browser, server):
    from gpstoken_studio.tools.handles import handle_points

    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    row = int(np.argmax(doc.plane.sigmas_px(doc.layout.geometry()).prod(axis=1)))
    x, y = doc.plane.centers(doc.layout.geometry()[[row]])[0]
    tab.get_by_role("button", name="move", exact=True).click()
    wait_for(lambda: studio.session.tools.mode.value == "move", what="the move tool")
    drag(tab, [(x, y), (x, y)])  # a click selects the token: its handles show
    wait_for(lambda: doc.layout.selection().tolist() == [row] and len(studio.canvas.handles.data["x"]) == 3,
             what="the handles of the selected token")
    before = doc.plane.ellipses(doc.layout.geometry()[[row]])[0]
    major = handle_points(doc, row, studio.canvas.pixel_size())["major"]
    u = np.array([np.cos(before[4]), np.sin(before[4])])
    drag(tab, [major, major + 8 * u, major + 16 * u])
    wait_for(lambda: full_and_idle(studio) and doc.plane.ellipses(doc.layout.geometry()[[row]])[0][2] > before[2] + 5,
             what="a longer major axis")
    after = doc.plane.ellipses(doc.layout.geometry()[[row]])[0]
    np.testing.assert_allclose(after[:2], before[:2], atol=1e-3)  # the centre stays
    tab.close()


def test_download_a_project_and_open_it_again(browser, server, tmp_path):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    tokens = tab.locator(".gps-tokens input")
    tokens.fill("16")
    tokens.press("Enter")
    wait_for(lambda: full_and_idle(studio) and len(doc.layout.live()) < 32, what="the re-partition at 16 tokens")
    saved = doc.layout.state()
    with tab.expect_download() as download:
        tab.get_by_role("button", name="Download project").click()
    assert download.value.suggested_filename == "camera.gpsproj"
    path = tmp_path / "camera.gpsproj"
    download.value.save_as(path)
    tab.locator(".gps-upload input[type=file]").set_input_files(str(path))
    wait_for(lambda: studio.session.document is not doc, what="the uploaded project")
    reopened = studio.session.document
    assert reopened.layout.state().equals(saved) and reopened.settings.tokens_per_tile == 16
    assert np.array_equal(reopened.image, doc.image)
    tab.close()


def test_the_browser_draws_the_lasso_while_it_is_dragged(browser, server):
    url, pages, _ = server
    tab, studio = open_tab(browser, url, pages)
    doc = studio.session.document
    tab.keyboard.press("q")
    wait_for(lambda: studio.session.tools.mode.value == "lasso", 10, what="the lasso tool")
    polygon = [(60, 60), (200, 70), (190, 200), (70, 190), (60, 60)]
    screen = [tab.evaluate(TO_SCREEN, [float(x), float(y)]) for x, y in polygon]
    tab.mouse.move(*screen[0])
    tab.mouse.down()
    for p in screen[1:]:
        tab.mouse.move(*p, steps=5)
    wait_for(lambda: source_length(tab, "gps-lasso-trail", "x") >= 10, 10, what="the trail drawn while dragging")
    assert len(studio.canvas.overlay_path.data["x"]) == 0  # the server sends no path of its own
    tab.mouse.up()
    wait_for(lambda: doc.layout.selection().size > 0 and source_length(tab, "gps-lasso-trail", "x") == 0, 10,
             what="the selection, and the trail gone")
    centres = doc.plane.centers(doc.layout.geometry()[doc.layout.selection()])
    assert ((centres >= 55) & (centres <= 205)).all()  # inside the lasso's box (a screen pixel of slack)
    tab.close()
