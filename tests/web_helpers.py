"""Helpers of the browser editor's tests: the server in a thread of this process, Chromium and what a
test reads from or does to a tab."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time

import pytest


def chromium_path() -> str:
    """Debian's Chromium, or skip: the browser tests need it (``make system`` installs it)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium; `make test` does it)")
    return path


@contextlib.contextmanager
def running_server(image=None, **options):
    """A ``make_server`` on a free port, looping on a thread; yields (url, pages, server): pages are every
    tab's StudioPage."""
    from gpstoken_studio.web.server import make_server

    pages, ready, box = [], threading.Event(), {}

    def loop() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            box["server"], box["url"] = make_server(image, port=0, on_page=pages.append, **options)
        finally:
            ready.set()
        box["server"].io_loop.start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    assert ready.wait(60) and "server" in box, "the web server did not start"
    server = box["server"]
    try:
        yield box["url"], pages, server
    finally:
        for page in list(pages):
            server.io_loop.add_callback(page.close)
        server.io_loop.add_callback(server.io_loop.stop)
        thread.join(10)
        server.stop()


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true (the page and the engine work on other threads)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


TO_SCREEN = """([x, y]) => {
  const fig = Bokeh.documents[0].get_model_by_name('canvas');
  const view = [...Bokeh.index.query((v) => v.model === fig)][0];
  const r = view.canvas_view.el.getBoundingClientRect();
  return [r.left + view.frame.x_scale.compute(x), r.top + view.frame.y_scale.compute(y)];
}"""


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (import it into a test module to use it)."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright (the test extra)")
    path = chromium_path()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True)
        yield b
        b.close()


def open_tab(browser, url, pages):
    """A new tab on the editor, once its session shows a full result; returns (page, its StudioPage)."""
    count = len(pages)
    tab = browser.new_page(viewport={"width": 1600, "height": 1000})
    tab.goto(url)
    wait_for(lambda: len(pages) > count, what="the tab's session")
    studio = pages[count]
    wait_for(lambda: full_and_idle(studio), what="the first full result")
    return tab, studio


def full_and_idle(studio) -> bool:
    """Whether the tab's session shows a full result of its current revision and has no work left."""
    doc = studio.session.document
    return (doc is not None and studio.session.idle and doc.result is not None and doc.result.path == "full"
            and doc.result.revision == doc.revision)


def text_of(tab, selector: str) -> str:
    """The shown text of a Panel pane (its content lives in the element's shadow root)."""
    return tab.locator(selector).first.evaluate(
        "e => [...(e.shadowRoot ? e.shadowRoot.children : [e])].filter(c => !['STYLE', 'LINK'].includes(c.tagName))"
        ".map(c => c.innerText).join(' ')")


def expect_text(tab, selector: str, text: str, timeout: float = 60.0) -> None:
    wait_for(lambda: text in text_of(tab, selector), timeout, what=f"{text!r} in {selector}")


def drag(tab, points, steps: int = 6) -> None:
    """Press at the first plane pixel, move through the others, release at the last."""
    screen = [tab.evaluate(TO_SCREEN, list(map(float, p))) for p in points]
    tab.mouse.move(*screen[0])
    tab.mouse.down()
    for p in screen[1:]:
        tab.mouse.move(*p, steps=steps)
    tab.mouse.up()


def source_length(tab, name: str, column: str) -> int:
    """How many rows the browser's copy of the named ColumnDataSource has in ``column``."""
    return tab.evaluate(f"() => Bokeh.documents[0].get_model_by_name({name!r}).data[{column!r}].length")
