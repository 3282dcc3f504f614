"""The Generate dock: sketch or sample a layout, calibrate it, generate textures for it with the
texture generator, and stage the candidates (accept one into the document, or discard them).

Model work runs on the panel's own job scheduler (a second worker thread, so the live pipeline keeps
running); layout changes are commands on the document, so sampling, calibrating and accepting all undo.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from gpstoken.errors import GPSTokenError
from gpstoken.generate.model_sets import bundled_set_names, load_model_set
from gpstoken.generate.samplers import METHODS
from gpstoken_studio.engines.generation import (Candidate, GenerationSettings, Generators, Preview,
                                                SketchCalibration, is_calibrated)
from gpstoken_studio.jobs import Job, JobScheduler
from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.layout import LayoutState
from gpstoken_studio.model.result import Result
from gpstoken_studio.views.staging_view import StagingView
from gpstoken_studio.widgets.image_grid import to_pixmap

if TYPE_CHECKING:
    from gpstoken_studio.widgets.main_window import MainWindow

GENERATE, SAMPLE_LAYOUT, CALIBRATE = "generate", "sample-layout", "calibrate"
FILLS = {"layout model": "model", "sketch outlines": "density"}  # what fills the layout around a kept sketch
BLANK_GREY = 128
THUMB = 96
SAFETENSORS = "Generator files (*.safetensors);;All files (*)"
TINY_SET = "tiny"  # the bundled generators of the default tokenizer


class GeneratePanel(QWidget):
    """Layout sketching, calibration, texture generation and the staging strip of one window."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.paths: dict[str, str | None] = {"texture": None, "texture_config": None, "layout": None}
        self.generators: Generators | None = None
        self.candidates: list[Candidate] = []
        self.job: Job | None = None
        self._count = 1  # candidates of the running generation
        self._numbered = 0  # candidates generated in this panel (their "#n" labels)
        self.staging = StagingView(window.canvas)
        # a worker of its own: edits keep their live reconstruction while a generation runs
        self.scheduler = JobScheduler(self)
        self._build()
        self.scheduler.partial.connect(self._on_partial)
        self.scheduler.finished.connect(self._on_finished)
        self.scheduler.failed.connect(self._on_failed)
        self.scheduler.progress.connect(self._on_progress)
        self.scheduler.cancelled.connect(self._done)
        window.document_changed.connect(self._on_document)
        self.load_models()
        self._sync()

    # --- widgets --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.texture_label, self.layout_label = QLabel(), QLabel()
        for label in (self.texture_label, self.layout_label):
            label.setWordWrap(True)
        load_texture, load_layout = QPushButton("Load…"), QPushButton("Load…")
        load_texture.clicked.connect(self.ask_texture)
        load_layout.clicked.connect(self.ask_layout)
        self.model_set = QComboBox()
        self.model_set.addItems([TINY_SET, *bundled_set_names()])
        self.model_set.setToolTip(f"{TINY_SET}: the default tokenizer's generators; the others bring their own "
                                  "tokenizer and class names")
        bundled = QPushButton("Use bundled models")
        bundled.clicked.connect(lambda: self.use_set(self.model_set.currentText()))
        models = QFormLayout()
        models.addRow("Texture", self._row(self.texture_label, load_texture))
        models.addRow("Layout", self._row(self.layout_label, load_layout))
        models.addRow(self._row(self.model_set, bundled))

        self.blank = QPushButton("New blank layout")
        self.blank.clicked.connect(self.new_blank)
        self.from_image = QPushButton("From image")
        self.from_image.setToolTip("A square tile of the current image with its partition")
        self.from_image.clicked.connect(self.new_from_image)
        self.label = QComboBox()
        self.layout_seed = QSpinBox(maximum=2**31 - 1)
        self.sample = QPushButton("Sample layout")
        self.sample.clicked.connect(self.sample_layout)
        self.calibrate_button = QPushButton("Calibrate")
        self.calibrate_button.setToolTip("Snap the Gaussians to a valid partition of the generator's token count")
        self.calibrate_button.clicked.connect(self.calibrate)
        self.fill = QComboBox()
        self.fill.addItems(list(FILLS))
        self.fill.setToolTip("Calibrate keeps each sketched Gaussian a region can approximate as one token; the "
                             "rest comes from the layout model (around the sketch's outlines) or the outlines alone")
        self.paint = QPushButton("Paint density")
        self.paint.setToolTip("A blank canvas whose layout follows the density you paint (Brush B, Eraser E)")
        self.paint.clicked.connect(self.new_density_canvas)
        self.show_before = QCheckBox("Show layout before calibration")
        self.show_before.toggled.connect(self.staging.set_ghost_visible)
        layout_box = QFormLayout()
        layout_box.addRow(self._row(self.blank, self.paint, self.from_image))
        layout_box.addRow("Class", self.label)
        layout_box.addRow("Layout seed", self._row(self.layout_seed, self.sample))
        layout_box.addRow("Fill", self.fill)
        layout_box.addRow(self._row(self.calibrate_button, self.show_before))

        self.sampler = QComboBox()
        self.sampler.addItems(METHODS)
        self.sampler.currentTextChanged.connect(lambda m: self.steps.setEnabled(m != "ode"))
        self.steps = QSpinBox(minimum=2, maximum=1000, value=50, enabled=False)
        self.cfg = QDoubleSpinBox(minimum=0.0, maximum=20.0, singleStep=0.5, value=1.0)
        self.seed = QSpinBox(maximum=2**31 - 1)
        self.count = QSpinBox(minimum=1, maximum=16, value=2)
        self.keep = QCheckBox("Keep locked tokens (regenerate the rest)")
        self.generate_button = QPushButton("Generate")
        self.generate_button.clicked.connect(self.generate)
        self.cancel = QPushButton("Cancel", enabled=False)
        self.cancel.clicked.connect(self.cancel_job)
        self.progress = QProgressBar(textVisible=True)
        self.progress.setRange(0, 1000)
        textures = QFormLayout()
        textures.addRow("Sampler", self._row(self.sampler, QLabel("steps"), self.steps))
        textures.addRow("Guidance", self._row(self.cfg, QLabel("seed"), self.seed))
        textures.addRow("Candidates", self.count)
        textures.addRow(self.keep)
        textures.addRow(self._row(self.generate_button, self.cancel))
        textures.addRow(self.progress)

        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.IconMode)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setFlow(QListWidget.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setFixedHeight(THUMB + 44)
        self.strip.currentRowChanged.connect(self._stage)
        self.strip.itemDoubleClicked.connect(lambda _item: self.accept())
        self.accept_button, self.discard_button = QPushButton("Accept"), QPushButton("Discard")
        self.discard_all = QPushButton("Discard all")
        self.grid_button = QPushButton("Grid…")
        self.grid_button.setToolTip("Every candidate side by side, large enough to judge (click one to stage it)")
        self.grid_button.clicked.connect(self.show_grid)
        self.grid = None
        self.accept_button.clicked.connect(lambda: self.accept())
        self.discard_button.clicked.connect(lambda: self.discard())
        self.discard_all.clicked.connect(self.clear_candidates)
        staging = QVBoxLayout()
        staging.addWidget(self.strip)
        staging.addWidget(self._row(self.accept_button, self.discard_button, self.discard_all, self.grid_button))

        self.status = QLabel(wordWrap=True)
        root = QVBoxLayout(self)
        for title, box in (("Models", models), ("Layout", layout_box), ("Textures", textures), ("Staging", staging)):
            group = QGroupBox(title)
            group.setLayout(box)
            root.addWidget(group)
        root.addWidget(self.status)
        root.addStretch(1)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        for w in widgets:
            box.addWidget(w)
        return row

    def say(self, message: str) -> None:
        self.status.setText(message)
        self.window.status.set_message(message)

    def _sync(self) -> None:
        running = self.job is not None
        ready = self.generators is not None
        for w in (self.sample, self.generate_button, self.blank, self.paint, self.from_image, self.calibrate_button):
            w.setEnabled(ready and not running)
        self.cancel.setEnabled(running)
        chosen = self.strip.currentRow() >= 0
        self.accept_button.setEnabled(chosen and not running)
        self.discard_button.setEnabled(chosen)
        self.discard_all.setEnabled(bool(self.candidates))

    # --- models ---------------------------------------------------------------------------------

    def use_set(self, name: str) -> bool:
        """Use a bundled model set: ``tiny`` (the default tokenizer's generators) or one with its own
        tokenizer and class names (``emoji``)."""
        if name == TINY_SET:
            return self.load_models()
        try:
            model_set = load_model_set(name)
        except GPSTokenError as exc:
            self.say(f"Cannot load the generators: {exc}")
            return False
        return self.load_models(str(model_set.file("texture")), None, str(model_set.file("layout")),
                                str(model_set.file("tokenizer")), model_set.classes)

    def load_models(self, texture: str | None = None, texture_config: str | None = None,
                    layout: str | None = None, tokenizer: str | None = None,
                    classes: tuple[str, ...] | None = None) -> bool:
        """Use these generator files (None: the bundled ones); an official texture file needs its YAML.
        ``tokenizer``: the tokenizer the texture model belongs to (default: the editor's model)."""
        try:
            gens = Generators(texture, texture_config, layout, tokenizer or self.window.model_path,
                              None if tokenizer else self.window.config_path)
        except GPSTokenError as exc:
            self.say(f"Cannot load the generators: {exc}")
            return False
        self.generators = gens
        self.paths = {"texture": texture, "texture_config": texture_config, "layout": layout,
                      "tokenizer": tokenizer, "classes": classes}
        self.texture_label.setText(f"{gens.texture_path.name} ({gens.tokens} tokens, "
                                   f"{gens.config.texture_channels} channels)")
        self.layout_label.setText(gens.layout_path.name)
        self.fill.setCurrentIndex(0 if gens.has_layout_model else 1)  # an official layout cache cannot inpaint
        self.label.clear()
        if gens.num_classes == 1:
            self.label.addItem("unconditional")
        elif classes is not None and len(classes) == gens.num_classes:
            self.label.addItems(list(classes))
        else:
            self.label.addItems([f"class {i}" for i in range(gens.num_classes)])
        self.say(f"Generators ready: {gens.texture_path.name}, {gens.layout_path.name}")
        self._sync()
        return True

    def ask_texture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Texture generator", "", SAFETENSORS)
        if not path:
            return
        config = None
        try:
            from gpstoken.generate import read_generator_config

            read_generator_config(path)
        except GPSTokenError:  # an official file: its config is a YAML next to it
            config, _ = QFileDialog.getOpenFileName(self, "Its YAML config", str(Path(path).parent),
                                                    "YAML (*.yaml *.yml)")
            if not config:
                return
        self.load_models(path, config, self.paths["layout"])

    def ask_layout(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Layout generator or official layout cache", "",
                                              "Layout generators and caches (*.safetensors *.pickle *.pkl);;"
                                              "All files (*)")
        if path:
            self.load_models(self.paths["texture"], self.paths["texture_config"], path, self.paths["tokenizer"],
                             self.paths["classes"])

    # --- layouts --------------------------------------------------------------------------------

    def new_blank(self) -> Document | None:
        """A blank canvas of one generator tile to sketch Gaussians on (the Add tool draws them)."""
        doc = self._new_document(np.full((self.generators.tile,) * 2 + (3,), BLANK_GREY, np.uint8), sketch=True)
        if doc is not None:
            self.say("Blank layout: draw Gaussians with the Add tool (A), or sample a layout")
        return doc

    def new_density_canvas(self) -> Document | None:
        """A blank canvas with its partition and the Brush tool: painted density shapes the layout."""
        from gpstoken_studio.tools import Mode

        doc = self.new_blank()
        if doc is not None:
            doc.history.push(commands.replace_layout(doc, doc.partition(), "Density canvas"))
            self.window.set_mode(Mode.BRUSH)
            self.say("Paint layout density with the Brush (B) and Eraser (E): tokens gather where you paint")
        return doc

    def new_from_image(self) -> Document | None:
        """The current image, centre-cropped to one generator tile, with its partition."""
        from gpstoken.generate.data import square_image

        doc = self.window.document
        if doc is None:
            self.say("Open an image first")
            return None
        return self._new_document(square_image(np.array(doc.image), self.generators.tile), sketch=False)

    def _new_document(self, image: np.ndarray, sketch: bool) -> Document | None:
        import dataclasses

        if not self.window.confirm_discard():
            return None

        settings = dataclasses.replace(self.window.new_settings(), tokens_per_tile=self.generators.tokens,
                                       tile=self.generators.tile)
        doc = Document(image, settings, sketch=sketch)
        self.window.set_document(doc)
        return doc

    def _document(self) -> Document | None:
        """The document to generate for: one generator tile; a blank one is made when there is none."""
        doc = self.window.document
        if doc is None:
            return self.new_blank()
        tile = self.generators.tile
        if doc.plane.size != (tile, tile) or doc.plane.num_tiles != 1:
            self.say(f"Generation works on one {tile}x{tile} tile: use 'From image' or 'New blank layout'")
            return None
        return doc

    def calibrate(self) -> bool:
        """Calibrate the live Gaussians on the worker into a layout of the generator's token count that keeps
        the sketch (``Generators.calibrate_sketch``); the sketch stays as the ghost. False (said why) when
        there is nothing to calibrate."""
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
        gens, fill = self.generators, FILLS[self.fill.currentText()]
        label, seed = max(self.label.currentIndex(), 0), self.layout_seed.value()
        return lambda job: gens.calibrate_sketch(geometry, locks, fill, label, seed, job.cancelled)

    def _install_calibration(self, job: Job, calibration: SketchCalibration) -> None:
        """Install a finished calibration if the document is still the one it was made from."""
        doc = self.window.document
        if doc is None or doc.revision != job.revision:
            self.say("The layout changed while calibrating: calibrate again")
            return
        doc.history.push(commands.replace_layout(doc, calibration.layout, "Calibrate"))
        self._show_before(doc, calibration.before)
        doc.layout.select(calibration.kept_rows)
        self.say(f"Calibrated into {len(calibration.layout)} regions: {calibration.summary} (kept ones selected)")

    def _show_before(self, doc: Document, geometry: np.ndarray | None) -> None:
        """The ghost of ``geometry`` (None: no ghost), and the check box that shows it."""
        self.staging.show_ghost(doc, geometry)
        self.show_before.setChecked(geometry is not None)

    def sample_layout(self) -> None:
        """Stage 1 on the worker: the layout model's sample replaces the layout (raw sample as the ghost)."""
        doc = self._document()
        if doc is None:
            return
        gens, label, seed = self.generators, max(self.label.currentIndex(), 0), self.layout_seed.value()
        self._submit(Job(SAMPLE_LAYOUT, doc.revision, lambda j: (doc, gens.sample_layout(label, seed, j.cancelled)),
                         owner=self))
        self.say("Sampling a layout…")

    # --- generation -----------------------------------------------------------------------------

    def settings(self) -> GenerationSettings:
        return GenerationSettings(label=max(self.label.currentIndex(), 0), sampler=self.sampler.currentText(),
                                  steps=self.steps.value(), cfg_scale=self.cfg.value(), seed=self.seed.value(),
                                  count=self.count.value())

    def generate(self) -> bool:
        """Generate candidates for the document's layout (calibrated first if it needs it)."""
        doc = self._document()
        if doc is None:
            return False
        gens, rows = self.generators, doc.layout.live()
        picked = doc.layout.rows(rows)
        calibrate = None
        if not is_calibrated(picked, gens.tokens, gens.tile, gens.config.min_size):
            if self.keep.isChecked() and (picked.locks != 0).any():
                self.say("Locked tokens are kept only on a calibrated layout: calibrate, then lock and regenerate")
                return False
            calibrate = self._calibration_run(doc)
            if calibrate is None:
                return False
        keep = None
        if self.keep.isChecked():
            keep = self._kept(doc, rows)
            if keep is None:
                return False
        settings = self.settings()
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
        self.progress.setValue(0)
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
        self._sync()

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.say("Cancelling…")

    # --- job events (GUI thread) ----------------------------------------------------------------

    def _on_partial(self, job: Job, value) -> None:
        if isinstance(value, SketchCalibration):
            self._install_calibration(job, value)
        elif isinstance(value, Preview):
            step = "done" if value.step < 0 else f"step {value.step}"
            self.staging.show_image(value.image, f"Generating {value.index + 1}/{self._count}: {step}")
        elif isinstance(value, Candidate):
            self.candidates.append(value)
            self._numbered += 1  # labels stay unique when candidates are accepted or discarded
            item = QListWidgetItem(QIcon(to_pixmap(value.image, THUMB)), f"#{self._numbered}")
            item.setToolTip(value.title)
            self.strip.addItem(item)
            self._sync()

    def _on_finished(self, job: Job, value) -> None:
        self._done(job)
        if job.kind == CALIBRATE:
            self._install_calibration(job, value)
        elif job.kind == SAMPLE_LAYOUT:
            doc, (raw, calibrated) = value
            if doc is self.window.document:
                doc.history.push(commands.replace_layout(doc, calibrated, "Sample layout"))
                self._show_before(doc, raw)
                self.say(f"Sampled a layout of {len(calibrated)} tokens (raw sample shown as the ghost)")
        else:
            self.progress.setValue(1000)
            self.progress.setFormat("done")
            if self.candidates:
                self.strip.setCurrentRow(self.strip.count() - 1)
            self.say(f"Generated {len(value)} candidate(s): accept one, or discard")

    def _on_failed(self, job: Job, message: str) -> None:
        self._done(job)
        self.say(f"{job.kind} failed: {message}")

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message)

    def _done(self, job: Job) -> None:
        if job is self.job:
            self.job = None
            if job.cancelled():
                self.say("Cancelled")
            self._sync()

    # --- staging --------------------------------------------------------------------------------

    def _stage(self, index: int) -> None:
        if 0 <= index < len(self.candidates):
            self.staging.show_image(self.candidates[index].image, f"Candidate {self.strip.item(index).text()}: "
                                    f"{self.candidates[index].title}")
        else:
            self.staging.show_image(None)
        self._sync()

    def show_grid(self):
        """The candidate grid (a window of its own that follows the strip)."""
        from gpstoken_studio.widgets.candidate_grid import CandidateGrid

        if self.grid is None:
            self.grid = CandidateGrid(self)
        self.grid.show()
        self.grid.raise_()
        return self.grid

    def accept(self, index: int | None = None) -> bool:
        """The candidate becomes the document (image and layout, one undo step), edited with the model engine."""
        index = self.strip.currentRow() if index is None else index
        doc = self.window.document
        if not 0 <= index < len(self.candidates) or doc is None:
            return False
        cand = self.candidates[index]
        if doc.image.shape != cand.image.shape:
            self.say("This candidate was made for another canvas size")
            return False
        tokenizer = str(self.generators.tokenizer_path)
        engine = self.window.pipeline.engine
        if engine.name != "model" or str(getattr(engine, "checkpoint", "")) != tokenizer:
            if not self.window.open_model(tokenizer, self.generators.tokenizer_config):
                return False
        doc.history.push(commands.accept_candidate(doc, cand.image, cand.layout))
        result = Result(revision=doc.revision, path="full", engine="model", rows=np.arange(len(cand.layout)),
                        g_init=cand.layout.geometry.copy(), tokens=cand.tokens.copy(),
                        reconstruction=cand.image.astype(np.float32) / 255.0, features="latent")
        self.window.pipeline.seed(result)  # locked tokens keep their generated features
        doc.set_result(result)
        self.discard(index)
        self.strip.setCurrentRow(-1)
        self.staging.show_image(None)
        self._show_before(doc, None)  # the ghost drew the layout before a calibration the candidate replaced
        self.say(f"Accepted {cand.title}: the document is now this image (undo brings the layout back)")
        return True

    def discard(self, index: int | None = None) -> None:
        index = self.strip.currentRow() if index is None else index
        if 0 <= index < len(self.candidates):
            del self.candidates[index]
            self.strip.takeItem(index)
        if not self.candidates:
            self.staging.show_image(None)
        self._sync()

    def clear_candidates(self) -> None:
        self.candidates.clear()
        self.strip.clear()
        self.staging.show_image(None)
        self._sync()

    def shutdown(self) -> None:
        self.scheduler.shutdown()

    def _on_document(self, doc: Document | None) -> None:
        self._show_before(doc, None)
        self._sync()
