"""Helpers of the browser editor's tests: the server in a thread of this process, and Chromium."""
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
