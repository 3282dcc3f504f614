"""The browser editor in headless Chromium: drag-step redraw time with 4096 ellipses, and how long a
reconstruction takes from the engine returning it to the page showing it.

The server runs in this process (one tab, the fit engine); Playwright drives Debian's Chromium with
real mouse events. Per drag step (one Gaussian moved, ~60 steps):
- ``paint``: the canvas's own redraw (BokehJS's plot paint of image, boxes and 4096 ellipses), ms;
- ``step``: the pointer move in the page -> the server's patch of the dragged row drawn (round trip
  over the websocket, tool, model, patch, paint), ms.
Per reconstruction (fast path during the drag, full path after release): ``arrival``: the engine's
call returned on the worker -> the page's next frame with the new image, ms.
    .venv/bin/python benchmarks/bench_web.py [--image assets/images/rocket512.png] [--tokens 1024]
docs/web.png is the page after a click (no drag) on astronaut.png:
    .venv/bin/python benchmarks/bench_web.py --image assets/images/astronaut.png --tokens 128 --steps 60 \
        --moves 0 --screenshot docs/web.png
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from web_helpers import TO_SCREEN  # noqa: E402  (the plane -> screen script the browser tests use too)

HOOKS = """() => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name('canvas');
  const view = [...Bokeh.index.query((v) => v.model === fig)][0];
  const ginit = fig.renderers.find((r) => r.glyph.type === 'Ellipse' && r.glyph.line_color.field === 'color').data_source;
  const res = doc.get_model_by_name('result');
  const recon = res.renderers.find((r) => r.glyph.type === 'ImageRGBA').data_source;
  window.__paint = []; window.__step = []; window.__recon = []; window.__t0 = null;
  const paint = view.paint.bind(view);
  view.paint = () => { const t = performance.now(); paint(); window.__paint.push(performance.now() - t); };
  document.addEventListener('pointermove', () => { if (window.__t0 === null) window.__t0 = performance.now(); }, true);
  ginit.patching.connect(() => requestAnimationFrame(() => {
    if (window.__t0 !== null) { window.__step.push(performance.now() - window.__t0); window.__t0 = null; }
  }));
  recon.change.connect(() => requestAnimationFrame(() => window.__recon.push(performance.timeOrigin + performance.now())));
  return ginit.data.x.length;
}"""


def serve(image: str, tokens: int, steps: int):
    """The editor server on a free port, looping on a thread: (url, pages, server)."""
    from gpstoken_studio.model.settings import Settings
    from gpstoken_studio.web.server import make_server

    pages, box, ready = [], {}, threading.Event()

    def loop() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        box["server"], box["url"] = make_server(image, port=0, on_page=pages.append,
                                                settings=Settings(tokens_per_tile=tokens, fit_steps=steps, engine="fit"))
        ready.set()
        box["server"].io_loop.start()

    threading.Thread(target=loop, daemon=True).start()
    ready.wait(120)
    return box["url"], pages, box["server"]


def stamp_returns(engine, stamps: list) -> None:
    """Record the wall time (epoch seconds) at which each fast/full engine call returns."""
    for name in ("fast", "full"):
        call = getattr(engine, name)

        def timed(*args, _call=call, _name=name, **kwargs):
            out = _call(*args, **kwargs)
            stamps.append((_name, time.time()))
            return out
        setattr(engine, name, timed)


def wait(predicate, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit("bench_web: timed out")
        time.sleep(0.05)


def stats(values) -> str:
    v = np.asarray(values, np.float64)
    return f"{np.median(v):7.1f} {np.percentile(v, 90):7.1f} {v.min():7.1f} {len(v):5d}" if len(v) else "      -"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default=str(ROOT / "assets" / "images" / "rocket512.png"))
    p.add_argument("--tokens", type=int, default=1024, help="tokens per tile (rocket512: 4 tiles -> 4096)")
    p.add_argument("--steps", type=int, default=10, help="fit steps of the full path")
    p.add_argument("--moves", type=int, default=80, help="drag steps (one screen pixel each)")
    p.add_argument("--screenshot", help="save the page as shown at the end (PNG)")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("bench_web: needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    url, pages, server = serve(args.image, args.tokens, args.steps)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        tab = browser.new_page(viewport={"width": 1700, "height": 1100})
        tab.goto(url)
        wait(lambda: pages and pages[0].session.document is not None and pages[0].session.document.result is not None
             and pages[0].session.idle)
        session = pages[0].session
        doc = session.document
        stamps: list = []
        stamp_returns(session.pipeline.engine, stamps)
        count = tab.evaluate(HOOKS)
        tab.get_by_role("button", name="move", exact=True).click()
        wait(lambda: session.tools.mode.value == "move")
        time.sleep(1.0)  # the page settles (the canvas took the image's size)
        row = int(np.argmax(doc.plane.sigmas_px(doc.layout.geometry()).prod(axis=1)))
        x, y = doc.plane.centers(doc.layout.geometry()[[row]])[0]
        start = tab.evaluate(TO_SCREEN, [float(x), float(y)])
        tab.mouse.move(*start)
        tab.mouse.down()
        revision, began = doc.revision, time.perf_counter()
        for k in range(1, args.moves + 1):
            tab.mouse.move(start[0] + k, start[1] + 0.5 * k)
            time.sleep(0.03)  # a hand's pace: ~30 moves a second
        tab.mouse.up()
        seconds = time.perf_counter() - began
        moved = doc.revision - revision
        wait(lambda: session.idle and doc.result is not None and doc.result.path == "full"
             and doc.result.revision == doc.revision)
        time.sleep(1.0)
        if args.screenshot:
            tab.screenshot(path=args.screenshot)
        paint, step, shown = tab.evaluate("() => [window.__paint, window.__step, window.__recon]")
        browser.close()
    server.io_loop.add_callback(server.io_loop.stop)
    arrivals = {"fast": [], "full": []}
    for name, returned in stamps:  # each return -> the first frame after it that showed a new image
        later = [t / 1000 for t in shown if t / 1000 >= returned]
        if later:
            arrivals[name].append(1000 * (min(later) - returned))
    print(f"browser editor, headless Chromium, {count} ellipses, {Path(args.image).name}, fit engine ({args.steps} steps)")
    print(f"{args.moves} mouse moves in {seconds:.1f} s; the server applied {moved} of them (Bokeh sends one pan "
          "event per frame)")
    print(f"{'measure':44s} {'median':>7s} {'p90':>7s} {'min':>7s} {'n':>5s}")
    print(f"{'drag step: canvas paint (ms)':44s} {stats(paint)}")
    print(f"{'drag step: pointer move -> drawn (ms)':44s} {stats(step)}")
    print(f"{'reconstruction: fast path returned -> drawn':44s} {stats(arrivals['fast'])}")
    print(f"{'reconstruction: full path returned -> drawn':44s} {stats(arrivals['full'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
