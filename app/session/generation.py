"""Generation without Qt: the generator files, layout sketching and calibration, texture generation and
the staged candidates of one session.

Model work runs on a scheduler of its own (a second worker, so the live pipeline keeps running while a
generation does); layout changes are commands on the document, so sampling, calibrating and accepting
all undo. Front-ends show ``candidates``, the ``staged`` image and the ``ghost`` (the layout before a
calibration) and call the methods; the form values live in ``form``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from psygnal import Signal, SignalGroup

from gpstoken.errors import GPSTokenError
from gpstoken.generate.model_sets import load_model_set
from gpstoken_studio.engines.generation import (Candidate, GenerationSettings, Generators, Preview,
                                                SketchCalibration, is_calibrated)
from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutState
from gpstoken_studio.model.result import Result
from gpstoken_studio.session.jobs import Job, JobScheduler

if TYPE_CHECKING:
    from gpstoken_studio.session.session import Session

GENERATE, SAMPLE_LAYOUT, CALIBRATE = "generate", "sample-layout", "calibrate"
FILLS = {"layout model": "model", "sketch outlines": "density"}  # what fills the layout around a kept sketch
BLANK_GREY = 128
TINY_SET = "tiny"  # the bundled generators of the default tokenizer


@dataclass
class GenerationForm:
    """What the user chose: class, fill, seeds and sampling (front-ends write it, generation reads it)."""

    label: int = 0
    fill: str = "layout model"
    layout_seed: int = 0
    sampler: str = "ode"
    steps: int = 50
    cfg_scale: float = 1.0
    seed: int = 0
    count: int = 2
    keep: bool = False

    def sampling(self) -> GenerationSettings:
        return GenerationSettings(label=max(self.label, 0), sampler=self.sampler, steps=self.steps,
                                  cfg_scale=self.cfg_scale, seed=self.seed, count=self.count)


class GenerationEvents(SignalGroup):
    models = Signal(object)  # Generators | None, after a load
    candidates = Signal(object)  # the list of candidates after it changed
    staged = Signal(object, str)  # (image [S, S, 3] | None, title): a candidate or a preview over the result
    ghost = Signal(object)  # geometry [K, 5] of the layout before calibration, or None
    running = Signal(bool)
    progress = Signal(float, str)
    message = Signal(str)


class GenerationModel:
    """Generation of one session; ``events`` tell front-ends what to show."""

    def __init__(self, session: "Session", wake: Callable[[], None] | None = None) -> None:
        self.session = session
        self.form = GenerationForm()
        self.paths: dict[str, object] = {"texture": None, "texture_config": None, "layout": None,
                                         "tokenizer": None, "classes": None}
        self.generators: Generators | None = None
        self.class_names: list[str] = []
        self.candidates: list[Candidate] = []
        self.names: list[str] = []  # "#n" of each candidate (unique while candidates come and go)
        self.staged: int = -1
        self.ghost: np.ndarray | None = None
        self.job: Job | None = None
        self._count = 1
        self._numbered = 0
        self.events = GenerationEvents()
        self.scheduler = JobScheduler(wake)
        self.scheduler.partial.connect(self._on_partial)
        self.scheduler.finished.connect(self._on_finished)
        self.scheduler.failed.connect(self._on_failed)
        self.scheduler.progress.connect(lambda _job, f, m: self.events.progress.emit(f, m))
        self.scheduler.cancelled.connect(self._done)
        session.events.document.connect(lambda _doc: self.set_ghost(None))

    @property
    def idle(self) -> bool:
        return self.scheduler.idle

    @property
    def running(self) -> bool:
        return self.job is not None

    def say(self, message: str) -> None:
        self.events.message.emit(message)
        self.session.events.message.emit(message)

    def shutdown(self) -> None:
        self.scheduler.shutdown()

    # --- models -------------------------------------------------------------------------------------

    def use_set(self, name: str) -> bool:
        """Use a bundled model set: ``tiny`` (the default tokenizer's generators) or one with its own
        tokenizer and class names (``emoji``)."""
        if name == TINY_SET:
            return self.load_models(sampling={})
        try:
            model_set = load_model_set(name)
        except GPSTokenError as exc:
            self.say(f"Cannot load the generators: {exc}")
            return False
        return self.load_models(str(model_set.file("texture")), None, str(model_set.file("layout")),
                                str(model_set.file("tokenizer")), model_set.classes, model_set.sampling)

    def load_models(self, texture: str | None = None, texture_config: str | None = None,
                    layout: str | None = None, tokenizer: str | None = None,
                    classes: tuple[str, ...] | None = None, sampling: dict | None = None) -> bool:
        """Use these generator files (None: the bundled ones); an official texture file needs its YAML.
        ``tokenizer``: the tokenizer the texture model belongs to (default: the session's model); ``sampling``:
        a set's recipe (``sampling.json``) for the form, {} for the defaults, None to keep the form's choice."""
        s = self.session
        try:
            gens = Generators(texture, texture_config, layout, tokenizer or s.model_path,
                              None if tokenizer else s.config_path)
        except GPSTokenError as exc:
            self.say(f"Cannot load the generators: {exc}")
            return False
        self.generators = gens
        self.paths = {"texture": texture, "texture_config": texture_config, "layout": layout,
                      "tokenizer": tokenizer, "classes": classes}
        if gens.num_classes == 1:
            self.class_names = ["unconditional"]
        elif classes is not None and len(classes) == gens.num_classes:
            self.class_names = list(classes)
        else:
            self.class_names = [f"class {i}" for i in range(gens.num_classes)]
        self.form.label = 0
        self.form.fill = "layout model" if gens.has_layout_model else "sketch outlines"  # a cache cannot inpaint
        if sampling is not None:
            defaults = GenerationForm()
            self.form.sampler = sampling.get("method", defaults.sampler)
            self.form.steps = sampling.get("steps", defaults.steps)
            self.form.cfg_scale = float(sampling.get("cfg_scale", defaults.cfg_scale))
        self.events.models.emit(gens)
        self.say(f"Generators ready: {gens.texture_path.name}, {gens.layout_path.name}")
        return True

    # --- layouts ------------------------------------------------------------------------------------

    def new_blank(self) -> Document | None:
        """A blank canvas of one generator tile to sketch Gaussians on (the Add tool draws them)."""
        if self.generators is None:
            return None
        doc = self._new_document(np.full((self.generators.tile,) * 2 + (3,), BLANK_GREY, np.uint8), sketch=True)
        self.say("Blank layout: draw Gaussians with the Add tool (A), or sample a layout")
        return doc

    def new_density_canvas(self) -> Document | None:
        """A blank canvas with its partition: painted density (Brush, Eraser) shapes the layout."""
        doc = self.new_blank()
        if doc is not None:
            doc.request_relayout("Density canvas")
            self.say("Paint layout density with the Brush (B) and Eraser (E): tokens gather where you paint")
        return doc

    def new_from_image(self) -> Document | None:
        """The current image, centre-cropped to one generator tile, with its partition."""
        from gpstoken.generate.data import square_image

        doc = self.session.document
        if doc is None or self.generators is None:
            self.say("Open an image first")
            return None
        return self._new_document(square_image(np.array(doc.image), self.generators.tile), sketch=False)

    def _new_document(self, image: np.ndarray, sketch: bool) -> Document:
        settings = dataclasses.replace(self.session.new_settings(), tokens_per_tile=self.generators.tokens,
                                       tile=self.generators.tile)
        doc = Document(image, settings, sketch=sketch)
        self.session.set_document(doc)
        return doc

    def _document(self) -> Document | None:
        """The document to generate for: one generator tile; a blank one is made when there is none."""
        doc = self.session.document
        if doc is None:
            return self.new_blank()
        tile = self.generators.tile
        if doc.plane.size != (tile, tile) or doc.plane.num_tiles != 1:
            self.say(f"Generation works on one {tile}x{tile} tile: use 'From image' or 'New blank layout'")
            return None
        return doc

    def set_ghost(self, geometry: np.ndarray | None) -> None:
        self.ghost = None if geometry is None or not len(geometry) else np.asarray(geometry, np.float32)
        self.events.ghost.emit(self.ghost)

    def calibrate(self) -> bool:
        """Calibrate the live Gaussians on the worker into a layout of the generator's token count that keeps
        the sketch (``Generators.calibrate_sketch``); the sketch stays as the ghost. False (said why) when
        there is nothing to calibrate."""
        if self.generators is None:
            return False
        doc = self._document()
        run = None if doc is None else self._calibration_run(doc)
        if run is None:
            return False
        self._submit(Job(CALIBRATE, doc.revision, run, owner=self))
        self.say("Calibrating…")
        return True

    def _calibration_run(self, doc: Document):
        """The calibration of the live Gaussians as a function of the job that runs it, or None (said why)."""
        live = doc.layout.live()
        if not len(live):
            self.say("Nothing to calibrate: draw Gaussians (Add tool), paint density or sample a layout first")
            return None
        geometry, locks = doc.layout.geometry()[live], doc.layout.locks()[live]
        gens, fill = self.generators, FILLS[self.form.fill]
        label, seed = max(self.form.label, 0), self.form.layout_seed
        return lambda job: gens.calibrate_sketch(geometry, locks, fill, label, seed, job.cancelled)

    def _install_calibration(self, job: Job, calibration: SketchCalibration) -> None:
        """Install a finished calibration if the document is still the one it was made from."""
        doc = self.session.document
        if doc is None or doc.revision != job.revision:
            self.say("The layout changed while calibrating: calibrate again")
            return
        doc.history.push(commands.replace_layout(doc, calibration.layout, "Calibrate"))
        self.set_ghost(calibration.before)
        doc.layout.select(calibration.kept_rows)
        self.say(f"Calibrated into {len(calibration.layout)} regions: {calibration.summary} (kept ones selected)")

    def sample_layout(self) -> bool:
        """Stage 1 on the worker: the layout model's sample replaces the layout (raw sample as the ghost)."""
        doc = None if self.generators is None else self._document()
        if doc is None:
            return False
        gens, label, seed = self.generators, max(self.form.label, 0), self.form.layout_seed
        self._submit(Job(SAMPLE_LAYOUT, doc.revision, lambda j: (doc, gens.sample_layout(label, seed, j.cancelled)),
                         owner=self))
        self.say("Sampling a layout…")
        return True

    # --- generation ---------------------------------------------------------------------------------

    def generate(self) -> bool:
        """Generate candidates for the document's layout (calibrated first if it needs it)."""
        doc = None if self.generators is None else self._document()
        if doc is None:
            return False
        gens, rows = self.generators, doc.layout.live()
        picked = doc.layout.rows(rows)
        calibrate = None
        if not is_calibrated(picked, gens.tokens, gens.tile, gens.config.min_size):
            if self.form.keep and (picked.locks != 0).any():
                self.say("Locked tokens are kept only on a calibrated layout: calibrate, then lock and regenerate")
                return False
            calibrate = self._calibration_run(doc)
            if calibrate is None:
                return False
        keep = None
        if self.form.keep:
            keep = self._kept(doc, rows)
            if keep is None:
                return False
        settings = self.form.sampling()
        layout = LayoutState.build(picked.geometry, picked.regions, picked.tiles)  # locks stay with the document

        def run(job: Job) -> list[Candidate]:
            target = layout
            if calibrate is not None:  # the calibrated layout is shown over the sketch before any texture
                made = calibrate(job)
                job.partial(made)
                target = LayoutState.build(made.layout.geometry, made.layout.regions, made.layout.tiles)
            return gens.generate(target, settings, job.cancelled, job.partial, job.partial, job.progress, keep)

        self._submit(Job(GENERATE, doc.revision, run, owner=self))
        self._count = settings.count
        self.events.progress.emit(0.0, "")
        self.say(f"Generating {settings.count} candidate(s)…")
        return True

    def _kept(self, doc: Document, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(tokens, mask) of the locked rows from the document's current tokens, or None (said why)."""
        mask = doc.layout.locks()[rows] != 0
        if not mask.any():
            self.say("Lock some tokens first (L or Shift+L on a selection) to keep them")
            return None
        result, width = doc.result, self.generators.config.in_channels
        if result is None or result.features != "latent" or result.tokens.shape[1] != width:
            self.say("Keeping tokens needs the model engine's tokens for this layout (accept a candidate, or "
                     "switch the engine to model and wait for its result)")
            return None
        tokens = result.tokens_by_row(len(doc.layout))[rows]
        if np.isnan(tokens[mask]).any():
            self.say("Some locked tokens have no tokens yet: wait for the engine's result")
            return None
        return np.nan_to_num(tokens), mask

    def _submit(self, job: Job) -> None:
        self.job = self.scheduler.submit(job)
        self.events.running.emit(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.say("Cancelling…")

    # --- job events (front-end thread) --------------------------------------------------------------

    def _on_partial(self, job: Job, value) -> None:
        if isinstance(value, SketchCalibration):
            self._install_calibration(job, value)
        elif isinstance(value, Preview):
            step = "done" if value.step < 0 else f"step {value.step}"
            self.events.staged.emit(value.image, f"Generating {value.index + 1}/{self._count}: {step}")
        elif isinstance(value, Candidate):
            self._numbered += 1
            self.candidates.append(value)
            self.names.append(f"#{self._numbered}")
            self.events.candidates.emit(self.candidates)

    def _on_finished(self, job: Job, value) -> None:
        self._done(job)
        if job.kind == CALIBRATE:
            self._install_calibration(job, value)
        elif job.kind == SAMPLE_LAYOUT:
            doc, (raw, calibrated) = value
            if doc is self.session.document:
                doc.history.push(commands.replace_layout(doc, calibrated, "Sample layout"))
                self.set_ghost(raw)
                self.say(f"Sampled a layout of {len(calibrated)} tokens (raw sample shown as the ghost)")
        else:
            self.events.progress.emit(1.0, "done")
            if self.candidates:
                self.stage(len(self.candidates) - 1)
            self.say(f"Generated {len(value)} candidate(s): accept one, or discard")

    def _on_failed(self, job: Job, message: str) -> None:
        self._done(job)
        self.say(f"{job.kind} failed: {message}")

    def _done(self, job: Job) -> None:
        if job is self.job:
            self.job = None
            if job.cancelled():
                self.say("Cancelled")
            self.events.running.emit(False)

    # --- staging ------------------------------------------------------------------------------------

    def stage(self, index: int) -> None:
        """Show candidate ``index`` over the result (-1: none)."""
        self.staged = index if 0 <= index < len(self.candidates) else -1
        if self.staged < 0:
            self.events.staged.emit(None, "")
        else:
            cand = self.candidates[index]
            self.events.staged.emit(cand.image, f"Candidate {self.names[index]}: {cand.title}")

    def accept(self, index: int | None = None) -> bool:
        """The candidate becomes the document (image and layout, one undo step), edited with the model engine."""
        index = self.staged if index is None else index
        s = self.session
        doc = s.document
        if not 0 <= index < len(self.candidates) or doc is None:
            return False
        cand = self.candidates[index]
        if doc.image.shape != cand.image.shape:
            self.say("This candidate was made for another canvas size")
            return False
        tokenizer = str(self.generators.tokenizer_path)
        if s.engine.name != "model" or str(getattr(s.engine, "checkpoint", "")) != tokenizer:
            if not s.open_model(tokenizer, self.generators.tokenizer_config):
                return False
        doc.history.push(commands.accept_candidate(doc, cand.image, cand.layout))
        result = Result(revision=doc.revision, path="full", engine="model", rows=np.arange(len(cand.layout)),
                        g_init=cand.layout.geometry.copy(), tokens=cand.tokens.copy(),
                        reconstruction=cand.image.astype(np.float32) / 255.0, features="latent")
        s.pipeline.seed(result)  # locked tokens keep their generated features
        doc.set_result(result)
        self.discard(index)
        self.stage(-1)
        self.set_ghost(None)  # the ghost drew the layout before a calibration the candidate replaced
        self.say(f"Accepted {cand.title}: the document is now this image (undo brings the layout back)")
        return True

    def discard(self, index: int | None = None) -> None:
        index = self.staged if index is None else index
        if 0 <= index < len(self.candidates):
            del self.candidates[index]
            del self.names[index]
            self.events.candidates.emit(self.candidates)
        self.stage(-1)

    def clear(self) -> None:
        self.candidates.clear()
        self.names.clear()
        self.events.candidates.emit(self.candidates)
        self.stage(-1)
