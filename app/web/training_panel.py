"""The training panel of one tab: the form (preset, data, held-out, steps, batch, learning rate, device,
output folder), start / stop / resume / extend / attach a ``gpstoken train tokenizer`` run, its live loss
and held-out PSNR curves, and opening one of its models in the model engine.

Its folders are paths under the server's ``--root`` (a run writes files): without a root the panel
says so and starts nothing."""
from __future__ import annotations

from pathlib import Path

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from gpstoken.errors import GPSTokenError
from gpstoken_studio.model.training_form import PRESETS, RunHistory, ema
from gpstoken_studio.session import Session
from gpstoken_studio.web.files import FileRoot

POLL_MS = 1000  # how often a running run's log is read


class TrainingPanel:
    """Widgets over ``session.training``; folder fields are relative to ``root``."""

    def __init__(self, session: Session, root: FileRoot | None) -> None:
        self.session, self.root = session, root
        self.training = session.training
        w = pn.widgets
        f = self.training.form
        self.preset = w.Select(label="Preset", options=list(PRESETS), value=f.preset, width=110,
                               css_classes=["gps-train-preset"])
        self.data = w.TextInput(label="Training images (under the root)", width=250, css_classes=["gps-train-data"])
        self.heldout = w.TextInput(label="Held out", placeholder="default", width=100, css_classes=["gps-train-heldout"])
        self.steps = w.IntInput(label="Steps (0: preset)", value=0, start=0, width=110, css_classes=["gps-train-steps"])
        self.batch = w.IntInput(label="Batch (0: preset)", value=0, start=0, width=110)
        self.lr = w.FloatInput(label="Learning rate (0: preset)", value=0.0, start=0.0, width=150)
        self.device = w.TextInput(label="Device", placeholder="auto", width=90)
        self.out = w.TextInput(label="Output folder (under the root)", width=250, css_classes=["gps-train-out"])
        self.extend = w.IntInput(label="Extend by", value=0, start=0, width=100)
        self.status = pn.pane.Str("" if root else "Training needs the server's --root folder (a run writes files)",
                                  width=600, height=40, css_classes=["gps-train-status"])
        button = lambda label, fn, css: w.Button(label=label, on_click=lambda e: fn(), css_classes=[css],  # noqa: E731
                                                 disabled=root is None)
        self.buttons = pn.Row(button("Start", self.start, "gps-train-start"), button("Stop", self.training.stop,
                                                                                     "gps-train-stop"),
                              button("Resume", self.resume, "gps-train-resume"), self.extend,
                              button("Attach", self.attach, "gps-train-attach"))
        self.models = w.Select(label="Models of the run", options=[], width=420, css_classes=["gps-train-models"])
        self.open_model = w.Button(label="Open in the model engine", disabled=root is None, css_classes=["gps-train-open"],
                                   on_click=lambda e: self.models.value and session.open_model(self.models.value))
        self.curves = ColumnDataSource({"step": [], "loss": [], "smooth": []}, name="gps-train-loss")
        self.psnr = ColumnDataSource({"step": [], "psnr": []}, name="gps-train-psnr")
        loss = figure(height=200, width=300, title="loss (faint) and its EMA", tools="pan,wheel_zoom,reset",
                      x_axis_label="step")
        loss.line("step", "loss", source=self.curves, alpha=0.3)
        loss.line("step", "smooth", source=self.curves, line_width=2)
        psnr = figure(height=200, width=300, title="held-out PSNR (dB)", tools="pan,wheel_zoom,reset",
                      x_axis_label="step")
        psnr.line("step", "psnr", source=self.psnr, color="orange")
        psnr.scatter("step", "psnr", source=self.psnr, color="orange", size=6)
        self.layout = pn.Column(pn.Row(self.preset, self.data, self.heldout),
                                pn.Row(self.steps, self.batch, self.lr, self.device), self.out, self.buttons,
                                self.status, pn.Row(pn.pane.Bokeh(loss), pn.pane.Bokeh(psnr)),
                                pn.Row(self.models, self.open_model), width=620)
        self._poll = None
        self.training.events.status.connect(lambda text: setattr(self.status, "object", text))
        self.training.events.polled.connect(self._show)
        self.training.events.followed.connect(lambda _run: self._following())

    def _folder(self, relative: str, what: str) -> str | None:
        """The real path of a folder field, or None (said why)."""
        if self.root is None:
            return None
        try:
            return str(self.root.resolve(relative.strip()))
        except GPSTokenError as exc:
            self.status.object = f"{what}: {exc}"
            return None

    def start(self) -> None:
        out, data = self._folder(self.out.value, "Output folder"), self._folder(self.data.value, "Training images")
        if out is None or data is None or not self.out.value.strip():
            if out is not None and not self.out.value.strip():
                self.status.object = "Choose an output folder first"
            return
        f = self.training.form
        f.preset, f.data, f.out, f.heldout = self.preset.value, data, out, self.heldout.value.strip()
        f.steps, f.batch, f.lr, f.device = self.steps.value or 0, self.batch.value or 0, self.lr.value or 0.0, \
            self.device.value.strip()
        self.training.start()

    def resume(self) -> None:
        self.training.resume(self.extend.value or 0)

    def attach(self) -> None:
        out = self._folder(self.out.value, "Output folder")
        if out is not None:
            self.training.attach(out)

    def _following(self) -> None:
        """Poll the run's log while it runs (and once more after)."""
        if self._poll is None:
            self._poll = pn.state.add_periodic_callback(self._tick, period=POLL_MS)

    def _tick(self) -> None:
        if not self.training.poll() and self._poll is not None:
            self._poll.stop()
            self._poll = None

    def _show(self, history: RunHistory) -> None:
        self.curves.data = {"step": history.steps, "loss": history.losses, "smooth": ema(history.losses)}
        self.psnr.data = {"step": [s for s, _ in history.psnr], "psnr": [p for _, p in history.psnr]}
        models = {Path(p).name: str(p) for p in self.training.models()}
        if list(models) != list(self.models.options):
            self.models.options = models

    def close(self) -> None:
        if self._poll is not None:
            self._poll.stop()
