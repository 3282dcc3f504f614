"""The Generate dock: the Qt front-end of the session's generation (``session.generation``): generator
files, layout sketching and calibration, texture generation and the staging strip.

The panel writes its form into the model before each action and shows what the model's events say; the
candidates, the job and the ghost belong to the model.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker, QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from gpstoken.errors import GPSTokenError
from gpstoken.generate.model_sets import bundled_set_names
from gpstoken.generate.samplers import METHODS
from gpstoken_studio.model.document import Document
from gpstoken_studio.session.generation import FILLS, TINY_SET
from gpstoken_studio.views.staging_view import StagingView
from gpstoken_studio.widgets.image_grid import to_pixmap

if TYPE_CHECKING:
    from gpstoken_studio.widgets.main_window import MainWindow

THUMB = 96
SAFETENSORS = "Generator files (*.safetensors);;All files (*)"


class GeneratePanel(QWidget):
    """Layout sketching, calibration, texture generation and the staging strip of one window."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.model = window.session.generation
        self.staging = StagingView(window.canvas)
        self._build()
        events = self.model.events
        events.models.connect(self._on_models)
        events.candidates.connect(self._on_candidates)
        events.staged.connect(self._on_staged)
        events.ghost.connect(self._on_ghost)
        events.running.connect(lambda _running: self._sync())
        events.progress.connect(self._on_progress)
        events.message.connect(lambda message: self.status.setText(message))
        window.document_changed.connect(lambda _doc: self._sync())
        if self.model.generators is None:
            self.load_models()
        else:
            self._on_models(self.model.generators)
        self._on_candidates(self.model.candidates)

    # --- the model's state --------------------------------------------------------------------------

    @property
    def generators(self):
        return self.model.generators

    @property
    def candidates(self):
        return self.model.candidates

    @property
    def job(self):
        return self.model.job

    @property
    def scheduler(self):
        return self.model.scheduler

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
        self.model.say(message)

    def _sync(self) -> None:
        running = self.model.running
        ready = self.model.generators is not None
        for w in (self.sample, self.generate_button, self.blank, self.paint, self.from_image, self.calibrate_button):
            w.setEnabled(ready and not running)
        self.cancel.setEnabled(running)
        chosen = self.strip.currentRow() >= 0
        self.accept_button.setEnabled(chosen and not running)
        self.discard_button.setEnabled(chosen)
        self.discard_all.setEnabled(bool(self.model.candidates))

    def _write_form(self) -> None:
        """The widgets' values into the model's form (read by every model action)."""
        f = self.model.form
        f.label, f.fill, f.layout_seed = max(self.label.currentIndex(), 0), self.fill.currentText(), self.layout_seed.value()
        f.sampler, f.steps, f.cfg_scale = self.sampler.currentText(), self.steps.value(), self.cfg.value()
        f.seed, f.count, f.keep = self.seed.value(), self.count.value(), self.keep.isChecked()

    # --- models ---------------------------------------------------------------------------------

    def use_set(self, name: str) -> bool:
        """Use a bundled model set (``tiny`` or one with its own tokenizer and class names, ``emoji``)."""
        return self.model.use_set(name)

    def load_models(self, texture: str | None = None, texture_config: str | None = None,
                    layout: str | None = None, tokenizer: str | None = None,
                    classes: tuple[str, ...] | None = None) -> bool:
        """Use these generator files (None: the bundled ones); an official texture file needs its YAML."""
        return self.model.load_models(texture, texture_config, layout, tokenizer, classes)

    def _on_models(self, gens) -> None:
        self.texture_label.setText(f"{gens.texture_path.name} ({gens.tokens} tokens, "
                                   f"{gens.config.texture_channels} channels)")
        self.layout_label.setText(gens.layout_path.name)
        form = self.model.form
        self.fill.setCurrentText(form.fill)
        self.sampler.setCurrentText(form.sampler)
        self.steps.setValue(form.steps)
        self.cfg.setValue(form.cfg_scale)
        self.label.clear()
        self.label.addItems(self.model.class_names)
        self._sync()

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
        self.load_models(path, config, self.model.paths["layout"])

    def ask_layout(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Layout generator or official layout cache", "",
                                              "Layout generators and caches (*.safetensors *.pickle *.pkl);;"
                                              "All files (*)")
        if path:
            paths = self.model.paths
            self.load_models(paths["texture"], paths["texture_config"], path, paths["tokenizer"], paths["classes"])

    # --- layouts --------------------------------------------------------------------------------

    def new_blank(self) -> Document | None:
        """A blank canvas of one generator tile to sketch Gaussians on (the Add tool draws them)."""
        return self.model.new_blank() if self.window.confirm_discard() else None

    def new_density_canvas(self) -> Document | None:
        """A blank canvas with its partition and the Brush tool: painted density shapes the layout."""
        from gpstoken_studio.tools import Mode

        doc = self.model.new_density_canvas() if self.window.confirm_discard() else None
        if doc is not None:
            self.window.set_mode(Mode.BRUSH)
        return doc

    def new_from_image(self) -> Document | None:
        """The current image, centre-cropped to one generator tile, with its partition."""
        return self.model.new_from_image() if self.window.confirm_discard() else None

    def calibrate(self) -> bool:
        """Calibrate the live Gaussians into a layout of the generator's token count that keeps the sketch."""
        self._write_form()
        return self.model.calibrate()

    def sample_layout(self) -> bool:
        self._write_form()
        return self.model.sample_layout()

    def _on_ghost(self, geometry) -> None:
        self.staging.show_ghost(self.window.document, geometry)
        self.show_before.setChecked(geometry is not None)

    # --- generation -----------------------------------------------------------------------------

    def generate(self) -> bool:
        """Generate candidates for the document's layout (calibrated first if it needs it)."""
        self._write_form()
        return self.model.generate()

    def cancel_job(self) -> None:
        self.model.cancel()

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress.setFormat(message)

    # --- staging --------------------------------------------------------------------------------

    def _on_candidates(self, candidates) -> None:
        with QSignalBlocker(self.strip):
            self.strip.clear()
            for cand, name in zip(candidates, self.model.names):
                item = QListWidgetItem(QIcon(to_pixmap(cand.image, THUMB)), name)
                item.setToolTip(cand.title)
                self.strip.addItem(item)
            self.strip.setCurrentRow(self.model.staged)
        self._sync()

    def _on_staged(self, image, title: str) -> None:
        self.staging.show_image(image, title)
        if self.strip.currentRow() != self.model.staged:
            with QSignalBlocker(self.strip):
                self.strip.setCurrentRow(self.model.staged)
            self._sync()

    def _stage(self, index: int) -> None:
        self.model.stage(index)
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
        return self.model.accept(self.strip.currentRow() if index is None else index)

    def discard(self, index: int | None = None) -> None:
        self.model.discard(self.strip.currentRow() if index is None else index)

    def clear_candidates(self) -> None:
        self.model.clear()
