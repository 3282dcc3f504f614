"""One browser tab (or notebook cell): a Session of its own and the views and controls bound to it.

The session's worker calls ``wake`` from its thread; on a Bokeh server the page answers with
``doc.add_next_tick_callback(drain)`` (the one Document call Bokeh allows from other threads), so a
result is drawn on the tab's own thread as soon as the engine returns it and an idle tab costs
nothing. Wakes arriving while a drain is already queued are folded into it. Where no server session
runs the document's callbacks (a notebook without one), a periodic callback drains instead.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import panel as pn

from gpstoken_studio.actions import VIEW_KEYS, ZOOM_STEP
from gpstoken_studio.model.settings import Settings
from gpstoken_studio.session import Session
from gpstoken_studio.web import keys
from gpstoken_studio.web.analytics_panel import AnalyticsPanel
from gpstoken_studio.web.browser_events import KeyListener
from gpstoken_studio.web.canvas import Canvas
from gpstoken_studio.web.controls import Controls, guarded
from gpstoken_studio.web.files import MAX_UPLOAD_BYTES, FileRoot
from gpstoken_studio.web.generate_panel import GeneratePanel
from gpstoken_studio.web.open_panel import OpenPanel
from gpstoken_studio.web.result_view import ResultView
from gpstoken_studio.web.training_panel import TrainingPanel

POLL_MS = 40  # drain period where no next-tick callbacks can be scheduled
SCOPE = "gps-studio"  # the CSS class of the editor's element: in a notebook, keys act after a click inside it


class Waker:
    """Schedules at most one pending ``drain`` on a Bokeh document, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued = False
        self.doc = None
        self.drain: Callable[[], None] | None = None

    def bind(self, doc, drain: Callable[[], None]) -> None:
        self.doc, self.drain = doc, drain

    def __call__(self) -> None:
        with self._lock:
            if self._queued or self.doc is None:
                return
            self._queued = True
        self.doc.add_next_tick_callback(self._run)

    def _run(self) -> None:
        with self._lock:
            self._queued = False
        self.drain()


class StudioPage:
    """The editor for one tab; ``layout`` is the Panel object to serve or show."""

    def __init__(self, image: str | Path | None = None, *, settings: Settings | None = None, model: str | None = None,
                 config: str | None = None, root: FileRoot | None = None, max_upload: int = MAX_UPLOAD_BYTES) -> None:
        self.waker = Waker()
        self.session = Session(settings=settings, model=model, config=config, wake=self.waker)
        self.canvas = Canvas(self.session)
        self.result = ResultView(self.session, self.canvas)
        self.controls = Controls(self.session)
        self.files = OpenPanel(self.session, root, max_upload)
        self.analytics = AnalyticsPanel(self.session)
        self.generate = GeneratePanel(self.session)
        self.training = TrainingPanel(self.session, root)
        self.alert = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["gps-error"])
        self.session.events.error.connect(self._on_error)
        self.session.events.document.connect(lambda _doc: setattr(self.alert, "visible", False))
        self.view_keys = {keys.canonical(VIEW_KEYS[name]): call for name, call in (
            ("show_error", self.result.toggle_error), ("zoom_in", lambda: self.canvas.zoom(ZOOM_STEP)),
            ("zoom_out", lambda: self.canvas.zoom(1 / ZOOM_STEP)), ("zoom_fit", self.canvas.fit))}
        self.keys = KeyListener(self.press, keys=[*keys.KEYS, *self.view_keys], scope=SCOPE)
        views = pn.Row(pn.pane.Bokeh(self.canvas.figure), self.result.layout)
        self.layout = pn.Row(pn.Column(self.controls.layout, self.files.layout, self.keys),
                             pn.Column(self.controls.toolbar, self.alert, views, pn.Tabs(
                                 ("Regions and rates", self.analytics.layout), ("Generate", self.generate.layout),
                                 ("Training", self.training.layout))),
                             css_classes=[SCOPE])
        self._poll = None
        self._image = image
        pn.state.onload(self._start)

    def _start(self) -> None:
        """Bind the waker to the tab's document and open the first image (once the page is shown)."""
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            self.waker.bind(doc, self.session.drain)
            self.keys.everywhere = True  # the page is the editor
            doc.on_session_destroyed(lambda _ctx: self.close())
        else:
            self._poll = pn.state.add_periodic_callback(self.session.drain, period=POLL_MS)
        if self._image is not None:
            self.session.open_path(self._image)
        self.session.drain()

    def press(self, combo: str) -> None:
        """A key combination from the page: the desktop window's keys (web.keys) and its view keys."""
        view = self.view_keys.get(combo)  # the listener sends the canonical spelling
        guarded(self.session, combo, view or (lambda: keys.press(self.session, combo)))

    def _on_error(self, title: str, text: str) -> None:
        self.alert.object = f"**{title}**: {text}"
        self.alert.visible = True

    def close(self) -> None:
        """Stop the tab's engine work (its tab closed)."""
        if self._poll is not None:
            self._poll.stop()
        self.waker.doc = None
        self.training.close()
        self.canvas.close()
        self.session.shutdown()
