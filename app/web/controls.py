"""The editor's controls as Panel widgets bound to the session: tool mode, token count, lambda, engine,
brush, fit steps, undo/redo and the edit actions, layers, and the status line with progress and cancel.

Widgets only send commands; they show what the session's events say (never a state of their own).
"""
from __future__ import annotations

from typing import Callable

import panel as pn

from gpstoken.errors import GPSTokenError
from gpstoken_studio.model.document import Document
from gpstoken_studio.session import LAYERS, Session
from gpstoken_studio.tools.base import Mode
from gpstoken_studio.web import keys

MODES = [m.value for m in Mode]


def guarded(session: Session, title: str, action: Callable[[], object]) -> None:
    """Run ``action``; bad input becomes the session's one-line ``error`` event and changes nothing."""
    try:
        action()
    except GPSTokenError as exc:
        session.events.error.emit(title, str(exc))


class Controls:
    """The left-hand column of one tab."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.doc: Document | None = None
        s = session.base_settings
        w = pn.widgets
        self.mode = w.RadioButtonGroup(label="Tool", options=MODES, value=session.tools.mode.value, button_type="primary",
                                       css_classes=["gps-mode"])
        self.tokens = w.IntInput(label="Tokens per tile", value=s.tokens_per_tile, start=1, end=4096,
                                 css_classes=["gps-tokens"])
        self.lam = w.FloatInput(label="Lambda", value=s.lam, start=0.0, step=0.5, css_classes=["gps-lambda"])
        self.steps = w.IntInput(label="Fit steps", value=s.fit_steps, start=0, end=100000)
        self.engine = w.Select(label="Engine", options=session.engine_names(), value=session.engine.name)
        self.radius = w.FloatSlider(label="Brush radius", start=0.5, end=128, step=0.5, value=s.brush_radius)
        self.strength = w.FloatSlider(label="Brush strength", start=0.05, end=1.0, step=0.05, value=s.brush_strength)
        self.layers = w.CheckButtonGroup(label="Layers", options={title: key for key, title in LAYERS},
                                         value=[k for k, on in session.layers.items() if on], orientation="vertical")
        button = lambda label, fn, css: w.Button(label=label, on_click=lambda e: fn(), css_classes=[css])  # noqa: E731
        self.buttons = pn.Row(
            button("Undo", session.undo, "gps-undo"), button("Redo", session.redo, "gps-redo"),
            button("Delete", session.delete_selected, "gps-delete"),
            button("Repartition", session.repartition, "gps-repartition"), button("Rerun", session.rerun, "gps-rerun"),
            button("Sweep", session.sweep, "gps-sweep"), button("Refine", session.refine, "gps-refine"))
        action = lambda name: button("{} ({})".format(*keys.ACTIONS[name][:2]), lambda: keys.run(session, name),  # noqa: E731
                                     f"gps-{name}")
        self.edits = pn.Row(*(action(name) for name in ("lock_geometry", "lock_features", "unlock", "split", "merge")))
        # fixed sizes and no visibility toggles: a status change must not re-lay out (and repaint) the canvas
        self.status = pn.pane.Str("", css_classes=["gps-status"], width=290, height=40)
        self.progress = w.Progress(value=0, max=1000, width=290, height=12)
        self.cancel = w.Button(label="Cancel", button_type="warning", disabled=True, css_classes=["gps-cancel"],
                               on_click=lambda e: session.cancel())
        self._bind()
        self.toolbar = pn.Column(pn.Row(self.mode, self.buttons), self.edits)
        self.layout = pn.Column(self.tokens, self.lam, self.engine, self.steps, self.radius, self.strength,
                                "**Layers**", self.layers, self.progress, self.cancel, self.status,
                                width=300)
        session.events.document.connect(self.set_document)
        session.events.engine.connect(self._on_engine)
        session.events.layer.connect(lambda *_: setattr(self.layers, "value", [k for k, on in session.layers.items() if on]))
        session.events.message.connect(lambda text: setattr(self.status, "object", text))
        session.events.progress.connect(self._on_progress)
        session.events.busy.connect(self._on_busy)
        session.tools.mode_changed.connect(lambda mode: setattr(self.mode, "value", mode.value))
        self.set_document(session.document)

    def _bind(self) -> None:
        s = self.session
        watch = lambda widget, fn, title: widget.param.watch(  # noqa: E731
            lambda e: guarded(s, title, lambda: fn(e.new)), "value")
        watch(self.mode, s.tools.set_mode, "Tool")
        watch(self.tokens, lambda n: n is not None and s.set_token_count(n), "Token count")
        watch(self.lam, lambda v: v is not None and s.set_lambda(v), "Lambda")
        watch(self.steps, lambda v: v is not None and s.update_settings(fit_steps=v), "Fit steps")
        watch(self.engine, s.set_engine, "Engine")
        self.radius.param.watch(lambda e: guarded(s, "Brush", lambda: s.update_settings(brush_radius=e.new)),
                                "value_throttled")
        self.strength.param.watch(lambda e: guarded(s, "Brush", lambda: s.update_settings(brush_strength=e.new)),
                                  "value_throttled")
        self.layers.param.watch(lambda e: [s.set_layer(k, k in e.new) for k, _ in LAYERS], "value")

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.events.settings.disconnect(self._on_settings)
        self.doc = doc
        if doc is not None:
            doc.events.settings.connect(self._on_settings)
            self._on_settings(doc.settings, True)

    def _on_settings(self, settings, _final: bool) -> None:
        self.tokens.value, self.lam.value, self.steps.value = settings.tokens_per_tile, settings.lam, settings.fit_steps
        self.radius.value, self.strength.value = settings.brush_radius, settings.brush_strength

    def _on_engine(self, name: str) -> None:
        """A new model file may add the model engine: the choices first, or the Select refuses its value."""
        self.engine.options = self.session.engine_names()
        self.engine.value = name

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.value = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        if message:
            self.status.object = message

    def _on_busy(self, busy: bool) -> None:
        self.cancel.disabled = not busy
        if not busy:
            self.progress.value = 0
