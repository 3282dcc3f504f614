"""The Generate panel of one tab: model sets, blank / density / from-image canvases, the form (class,
fill, seeds, sampler), sample layout, calibrate, generate with previews, and staging (stage, accept,
discard) of the candidates. Everything runs through ``session.generation``."""
from __future__ import annotations

import io

import numpy as np
import panel as pn
from PIL import Image

from gpstoken.generate.model_sets import bundled_set_names
from gpstoken.generate.options import METHODS
from gpstoken_studio.session import Session
from gpstoken_studio.session.generation import FILLS, TINY_SET
from gpstoken_studio.web.controls import guarded

THUMB = 180  # screen pixels of a candidate's thumbnail (three to a row); the staged one shows over the result
COLUMNS = 3


def png(image: np.ndarray) -> io.BytesIO:
    """uint8 [H, W, 3] -> PNG bytes for an image pane."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    buf.seek(0)
    return buf


class GeneratePanel:
    """Widgets over ``session.generation``; the form is written back on every change."""

    def __init__(self, session: Session) -> None:
        self.session = session
        gen = session.generation
        f, w = gen.form, pn.widgets
        self.model_set = w.Select(label="Model set", options=[TINY_SET, *bundled_set_names()], value=TINY_SET, width=140)
        load = w.Button(label="Load", on_click=lambda e: self._load(), css_classes=["gps-gen-load"])
        button = lambda label, fn, css: w.Button(label=label, on_click=lambda e: guarded(session, label, fn),  # noqa: E731
                                                 css_classes=[css])
        self.canvases = pn.Row(button("Blank canvas", gen.new_blank, "gps-gen-blank"),
                               button("Density canvas", gen.new_density_canvas, "gps-gen-density"),
                               button("From image", gen.new_from_image, "gps-gen-from-image"))
        self.label = w.Select(label="Class", options={"-": 0}, value=0, width=160)
        self.fill = w.Select(label="Fill", options=list(FILLS), value=f.fill, width=160)
        self.layout_seed = w.IntInput(label="Layout seed", value=f.layout_seed, start=0, width=100)
        self.sampler = w.Select(label="Sampler", options=list(METHODS), value=f.sampler, width=100)
        self.steps = w.IntInput(label="Steps", value=f.steps, start=1, end=1000, width=80)
        self.cfg = w.FloatInput(label="Guidance", value=f.cfg_scale, start=0.0, step=0.5, width=80)
        self.seed = w.IntInput(label="Seed", value=f.seed, start=0, width=80)
        self.count = w.IntInput(label="Count", value=f.count, start=1, end=16, width=80, css_classes=["gps-gen-count"])
        self.keep = w.Checkbox(label="Keep locked tokens", value=f.keep)
        for widget, field in ((self.label, "label"), (self.fill, "fill"), (self.layout_seed, "layout_seed"),
                              (self.sampler, "sampler"), (self.steps, "steps"), (self.cfg, "cfg_scale"),
                              (self.seed, "seed"), (self.count, "count"), (self.keep, "keep")):
            widget.param.watch(lambda e, field=field: e.new is not None and setattr(gen.form, field, e.new), "value")
        self.actions = pn.Row(button("Sample layout", gen.sample_layout, "gps-gen-sample"),
                              button("Calibrate", gen.calibrate, "gps-gen-calibrate"),
                              button("Generate", gen.generate, "gps-gen-generate"),
                              w.Button(label="Cancel", on_click=lambda e: gen.cancel(), button_type="warning"))
        self.status = pn.pane.Str("Load a model set to generate", css_classes=["gps-gen-status"], width=600, height=24)
        self.strip = pn.GridBox(ncols=COLUMNS, css_classes=["gps-gen-candidates"])
        self.layout = pn.Column(pn.Row(self.model_set, load), self.canvases,
                                pn.Row(self.label, self.fill, self.layout_seed),
                                pn.Row(self.sampler, self.steps, self.cfg, self.seed, self.count), self.keep,
                                self.actions, self.status, self.strip, width=620)
        gen.events.models.connect(self._on_models)
        gen.events.candidates.connect(self._on_candidates)
        gen.events.message.connect(lambda text: setattr(self.status, "object", text))
        gen.events.progress.connect(lambda fraction, text: setattr(self.status, "object",
                                                                   f"{100 * fraction:.0f}% {text}".strip()))

    def _load(self) -> None:
        self.status.object = f"Loading {self.model_set.value}..."
        self.session.generation.use_set(self.model_set.value)

    def _on_models(self, _generators) -> None:
        gen = self.session.generation
        self.label.options = {name: i for i, name in enumerate(gen.class_names)}
        f = gen.form  # the set's sampling recipe comes with it
        self.label.value, self.fill.value = f.label, f.fill
        self.sampler.value, self.steps.value, self.cfg.value = f.sampler, f.steps, f.cfg_scale

    def _on_candidates(self, candidates) -> None:
        gen = self.session.generation
        cards = []
        for i, (cand, name) in enumerate(zip(candidates, gen.names)):
            act = lambda fn, i=i: lambda e: guarded(self.session, "Candidate", lambda: fn(i))  # noqa: E731
            cards.append(pn.Column(
                pn.pane.PNG(png(cand.image), width=THUMB, height=THUMB), pn.pane.Str(name, height=18),
                pn.Row(pn.widgets.Button(label="Stage", on_click=act(gen.stage), width=50, css_classes=["gps-gen-stage"]),
                       pn.widgets.Button(label="Accept", on_click=act(gen.accept), width=56, css_classes=["gps-gen-accept"]),
                       pn.widgets.Button(label="Discard", on_click=act(gen.discard), width=60,
                                         css_classes=["gps-gen-discard"]))))
        self.strip.objects = cards
