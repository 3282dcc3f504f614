"""The main window: canvas, views, panels, actions, pipeline, documents (open/save/export/recover)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image, save_image
from gpstoken_studio.actions import ActionRegistry
from gpstoken_studio.engines.registry import create_engine
from gpstoken_studio.jobs import JobScheduler
from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.export import export_reconstruction, export_tokens
from gpstoken_studio.model.project import SUFFIX, load_project, save_project, snapshot
from gpstoken_studio.model.rate_records import RateBook, record_of
from gpstoken_studio.model.result import Result
from gpstoken_studio.model.settings import Settings
from gpstoken_studio.pipeline import Pipeline
from gpstoken_studio.tools import Mode
from gpstoken_studio.views.canvas import StudioCanvas
from gpstoken_studio.views.density_view import DensityView
from gpstoken_studio.views.ellipses_view import GInitEllipsesView, RefinedEllipsesView
from gpstoken_studio.views.handles_view import HandlesView
from gpstoken_studio.views.image_view import ImageView
from gpstoken_studio.views.interaction import Interaction
from gpstoken_studio.views.recon_view import ReconstructionView, SwipeView
from gpstoken_studio.views.regions_view import RegionsView
from gpstoken_studio.widgets.autosave import Autosaver
from gpstoken_studio.widgets.gc_guard import MainThreadCollector
from gpstoken_studio.widgets.generate_panel import GeneratePanel
from gpstoken_studio.widgets.inspector import InspectorPanel
from gpstoken_studio.widgets.metrics_panel import MetricsPanel
from gpstoken_studio.widgets.prompts import NO_ANSWER, Prompts
from gpstoken_studio.widgets.qt_actions import build_qactions
from gpstoken_studio.widgets.rate_plot import RatePlot
from gpstoken_studio.widgets.region_actions import RegionActions
from gpstoken_studio.widgets.region_panel import RegionPanel
from gpstoken_studio.widgets.scrolled import scrolled
from gpstoken_studio.widgets.shortcuts_dialog import ShortcutsDialog
from gpstoken_studio.widgets.status_bar import StudioStatusBar
from gpstoken_studio.widgets.toolbar import StudioToolBar
from gpstoken_studio.widgets.training_panel import TrainingPanel
from gpstoken_studio.widgets.window_actions import LAYERS, MODEL_FILTER, PROJECT_FILTER, register_actions
from gpstoken_studio.widgets.workbench_panel import WorkbenchPanel



class MainWindow(QMainWindow):
    """GPSToken Studio's window; one document at a time."""

    document_changed = Signal(object)

    def __init__(self, *, settings: Settings | None = None, model: str | None = None, config: str | None = None,
                 autosave_s: float = 30.0) -> None:
        super().__init__()
        self.setWindowTitle("GPSToken Studio")
        self.resize(1500, 900)
        self.setAcceptDrops(True)
        self.confirm_close = True
        self.base_settings = settings or Settings()
        self.model_path, self.config_path = model, config
        self.document: Document | None = None
        self.views: dict[str, object] = {}
        self.layer_visible = {key: True for key, _, _ in LAYERS}
        self.layer_visible["refined"] = False

        self.collector = MainThreadCollector(self)  # before any worker thread exists
        self.scheduler = JobScheduler(self)
        self.pipeline = Pipeline(self.scheduler, create_engine(self.base_settings.engine, model, config,
                                                               self.base_settings.precision), self)
        self.canvas = StudioCanvas()
        self.setCentralWidget(self.canvas.native)
        self.interaction = Interaction(self.canvas)
        self.status = StudioStatusBar(self)
        self.setStatusBar(self.status)
        self.autosaver = Autosaver(autosave_s, self)
        self.prompts = Prompts(self)  # every dialog; decides whether anyone can answer

        self.region_actions = RegionActions(self.status)
        self.actions_registry = ActionRegistry()
        register_actions(self.actions_registry, self)
        self.qactions = build_qactions(self.actions_registry, self)
        self.region_actions.bind(self.qactions)
        self.toolbar = StudioToolBar([self.qactions[f"studio:tool_{m.value}"] for m in Mode], self)
        self.addToolBar(self.toolbar)
        self.training: TrainingPanel | None = None
        self.generation: GeneratePanel | None = None
        self.inspector = InspectorPanel(self)
        self.metrics = MetricsPanel(self)
        self.rate_plot = RatePlot(self)
        docks = [self._dock("Inspector", scrolled(self.inspector)), self._dock("Metrics", self.metrics),
                 self._dock("Rate / quality", self.rate_plot)]
        self.inspector_dock = docks[0]
        self.resizeDocks(docks, [330] * 3, Qt.Horizontal)
        self.resizeDocks(docks, [330, 170, 260], Qt.Vertical)
        self.region_panel = RegionPanel(self)  # region analytics, below the Metrics table
        self.splitDockWidget(docks[1], self._dock("Region", scrolled(self.region_panel)), Qt.Vertical)
        self.workbench = WorkbenchPanel(RateBook(), self)  # the rate-quality records, a tab beside the plot
        self.tabifyDockWidget(docks[2], self._dock("Workbench", scrolled(self.workbench)))
        self.resizeDocks([docks[0], docks[1], self.findChild(QDockWidget, "Region"), docks[2]], [340, 150, 150, 220],
                         Qt.Vertical)  # the column with Region in it: the Inspector's tabs keep the largest share
        self.rate_plot.set_book(self.workbench.book)
        docks[2].raise_()
        self._connect()
        self.set_mode(Mode.SELECT)
        self._sync_controls()

    # --- construction ---------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        return dock

    def _tab_dock(self, title: str, widget: QWidget) -> QDockWidget:
        """A dock opened later, as a tab beside the Inspector (scrolled: it never grows the window)."""
        dock = self._dock(title, scrolled(widget))
        self.tabifyDockWidget(self.inspector_dock, dock)
        return dock

    @staticmethod
    def _raise(dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    def _connect(self) -> None:
        tb = self.toolbar
        self.scheduler.busy_changed.connect(self.status.set_busy)
        self.pipeline.message.connect(self.status.set_message)
        self.pipeline.progress.connect(self.status.set_progress)
        self.pipeline.full_result.connect(self._on_full_result)
        self.pipeline.sweep_point.connect(self._on_sweep_point)
        self.workbench.sweep_button.clicked.connect(lambda: self.pipeline.sweep())
        self.workbench.export_button.clicked.connect(self.ask_export_workbench)
        self.region_panel.export_button.clicked.connect(self.ask_export_region)
        self.autosaver.saved.connect(self.status.set_message)
        self.autosaver.failed.connect(self.status.set_message)
        self.interaction.hover.connect(lambda p: self.status.set_position(float(p[0]), float(p[1])))
        self.canvas.canvas.events.key_press.connect(self._on_canvas_key)
        tb.engine.currentTextChanged.connect(self.set_engine)
        tb.steps.valueChanged.connect(lambda n: self.with_doc(lambda d: d.update_settings(fit_steps=int(n))))
        tb.brush.valueChanged.connect(lambda v: self.with_doc(lambda d: d.update_settings(brush_radius=float(v))))
        tb.strength.valueChanged.connect(lambda v: self.with_doc(lambda d: d.update_settings(brush_strength=float(v))))
        tb.swipe.valueChanged.connect(lambda v: self.views.get("swipe") and self.views["swipe"].set_position(v / 100))
        tb.right_mode.currentIndexChanged.connect(lambda i: self.set_right_mode("error" if i else "reconstruction",
                                                                                fixed_scale=i == 2))
        for key, _, _ in LAYERS:
            self.qactions[f"studio:show_{key}"].setChecked(self.layer_visible[key])

    # --- documents ------------------------------------------------------------------------------

    def open_path(self, path: str | Path) -> bool:
        """Open an image or a project file; errors are shown in a dialog and change nothing."""
        p = Path(path)
        if not self.confirm_discard():
            return False
        try:
            if p.suffix.lower() == SUFFIX:
                self.open_project(p)
            else:
                self.open_image(p)
            return True
        except GPSTokenError as exc:
            self.show_error("Cannot open file", str(exc))
            return False

    def open_image(self, path: str | Path, settings: Settings | None = None) -> Document:
        image = load_image(path)
        doc = Document(image, settings or self.new_settings(), image_path=path)
        self.set_document(doc)
        self.status.set_message(f"Opened {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        return doc

    def open_project(self, path: str | Path) -> Document:
        data = load_project(path)  # raises before anything changes
        doc = Document(data.image, data.settings, layout=data.layout, bias=data.bias,
                       image_path=data.image_name or None, sketch=data.sketch)
        doc.project_path = Path(path)
        self.set_document(doc, data)
        self.status.set_message(f"Opened project {Path(path).name}")
        return doc

    def set_document(self, doc: Document | None, data=None) -> None:
        for view in self.views.values():
            view.close()
        self.views = {}
        self.interaction.set_document(doc)
        self.document = doc
        if doc is not None:
            if doc.settings.engine != self.pipeline.engine.name:
                self._apply_engine(doc.settings.engine)
            left, right = self.canvas.left.scene, self.canvas.right.scene
            self.views = {
                "image": ImageView(doc, left), "swipe": SwipeView(doc, left), "density": DensityView(doc, left),
                "regions": RegionsView(doc, left), "refined": RefinedEllipsesView(doc, left),
                "ginit": GInitEllipsesView(doc, left), "recon": ReconstructionView(doc, right),
                "handles": HandlesView(doc, self.canvas),
            }
            for key, _, _ in LAYERS:
                self.views[key].set_visible(self.layer_visible[key])
            self.views["swipe"].set_position(self.toolbar.swipe.value() / 100)
            self.views["recon"].set_mode("error" if self.toolbar.right_mode.currentIndex() else "reconstruction")
            self.views["recon"].set_fixed_scale(self.toolbar.right_mode.currentIndex() == 2)
            self.views["recon"].scale_changed.connect(self._show_error_scale)
            self.canvas.set_extent(doc.image_size)
            doc.history.changed.connect(self._update_title)
            doc.events.settings.connect(self._sync_controls)
            doc.events.image.connect(self._update_view_titles)
            doc.history.mark_saved()
        self.workbench.book.clear()
        self.workbench.filmstrip.remove_all()
        self.workbench.image = str(doc.image_path) if doc is not None and doc.image_path else "IMAGE"
        self.region_panel.set_document(doc)
        self.inspector.set_document(doc)
        self.region_actions.set_document(doc)
        self.toolbar.tokens.set_document(doc)
        self.autosaver.set_document(doc)
        self.metrics.show_result(None)
        self.pipeline.set_document(doc)
        if doc is not None and data is not None and data.tokens is not None:
            self._seed_from_project(doc, data)
        self._sync_controls()
        self._update_title()
        self._update_view_titles()
        self.document_changed.emit(doc)

    def _seed_from_project(self, doc: Document, data) -> None:
        """The saved refined tokens warm-start the first full path of the reopened document."""
        rows = data.token_rows
        result = Result(revision=doc.revision, path="full", engine=doc.settings.engine, rows=rows,
                        g_init=doc.layout.geometry()[rows], tokens=data.tokens,
                        reconstruction=np.zeros(doc.image_size + (3,), np.float32), features=data.features)
        self.pipeline.seed(result)

    def new_settings(self) -> Settings:
        return dataclasses.replace(self.base_settings, engine=self.pipeline.engine.name)

    def save(self) -> bool:
        doc = self.document
        if doc is None:
            return False
        if doc.project_path is None:
            return self.save_as()
        return self.save_project(doc.project_path)

    def save_as(self) -> bool:
        if self.document is None:
            return False
        path = self.prompts.save_path("Save Project", self._suggest(SUFFIX), PROJECT_FILTER)
        return bool(path) and self.save_project(Path(path).with_suffix(SUFFIX))

    def save_project(self, path: str | Path) -> bool:
        doc = self.document
        try:
            save_project(snapshot(doc), path)
        except (OSError, GPSTokenError) as exc:
            self.show_error("Cannot save project", str(exc))
            return False
        doc.project_path = Path(path)
        doc.history.mark_saved()
        self.autosaver.discard()
        self.status.set_message(f"Saved {Path(path).name}")
        return True

    # --- exports --------------------------------------------------------------------------------

    def ask_export_reconstruction(self) -> None:
        self._ask_export("Export Reconstruction", "-recon.png", "PNG (*.png)", self.export_reconstruction)

    def ask_export_tokens(self) -> None:
        self._ask_export("Export Tokens", "-tokens.npz", "Token files (*.npz)", self.export_tokens)

    def ask_export_overlay(self) -> None:
        self._ask_export("Export Overlay", "-overlay.png", "PNG (*.png)", self.export_overlay)

    def _ask_export(self, title: str, suffix: str, filter: str, export) -> None:
        if self.document is None:
            return
        path = self.prompts.save_path(title, self._suggest(suffix), filter)
        if path:
            export(path)

    def export_reconstruction(self, path: str | Path) -> bool:
        return self._export(lambda: export_reconstruction(self.document, path), path)

    def export_tokens(self, path: str | Path) -> bool:
        return self._export(lambda: export_tokens(self.document, path), path)

    def export_overlay(self, path: str | Path) -> bool:
        """The left view as drawn (image, partition, ellipses, density), at screen resolution."""
        return self._export(lambda: save_image(path, self.canvas.render_view(self.canvas.left)), path)

    def ask_export_region(self) -> None:
        self._ask_export("Export Region Analytics", "-region.csv", "CSV (*.csv);;JSON (*.json)",
                         lambda path: self._export(lambda: self.region_panel.export(path), path))

    def ask_export_workbench(self) -> None:
        self._ask_export("Export Rate-Quality Records", "-rate.csv", "CSV (*.csv)", self.export_workbench)

    def export_workbench(self, path: str | Path) -> bool:
        """The records as CSV; a painted bias is written beside it (``-bias.npy``) for the commands' --bias."""
        doc, bias_file = self.document, Path(path).with_name(Path(path).stem + "-bias.npy")

        def write() -> None:
            self.workbench.book.export_csv(path, self.workbench.image, bias_file.name)
            if doc.bias.painted():
                from gpstoken.io.atomic import atomic_path

                with atomic_path(bias_file) as tmp:
                    np.save(tmp, doc.bias_for_partition())
        return self._export(write, path)

    def _export(self, write, path) -> bool:
        try:
            write()
        except (OSError, GPSTokenError) as exc:
            self.show_error("Export failed", str(exc))
            return False
        self.status.set_message(f"Exported {Path(path).name}")
        return True

    def _suggest(self, suffix: str) -> str:
        doc = self.document
        base = doc.project_path or doc.image_path or Path("untitled")
        return str(Path(base).with_suffix("")) + suffix

    # --- edits, tools, views --------------------------------------------------------------------

    def with_doc(self, fn) -> None:
        if self.document is not None:
            fn(self.document)

    def delete_selected(self) -> None:
        doc = self.document
        if doc is not None:
            cmd = commands.delete_tokens(doc, doc.layout.selection())
            if cmd is not None:
                doc.history.push(cmd)

    def lock(self, bits: int, on: bool) -> None:
        doc = self.document
        if doc is not None:
            cmd = commands.set_locks(doc, doc.layout.selection(), bits, on)
            if cmd is not None:
                doc.history.push(cmd)

    def repartition(self) -> None:
        if self.document is not None and len(self.document.layout):
            self.document.history.push(commands.repartition(self.document))

    def set_mode(self, mode: Mode) -> None:
        self.interaction.set_mode(mode)
        self.canvas.pan_button_held = False
        qa = self.qactions[f"studio:tool_{Mode(mode).value}"]
        if not qa.isChecked():
            qa.setChecked(True)
        self.canvas.native.setCursor(Qt.OpenHandCursor if mode == Mode.PAN else
                                     Qt.CrossCursor if mode in (Mode.ADD, Mode.BRUSH, Mode.ERASER) else Qt.ArrowCursor)

    def scale_brush(self, factor: float) -> None:
        doc = self.document
        if doc is not None:
            doc.update_settings(brush_radius=float(min(max(doc.settings.brush_radius * factor, 1.0), 512.0)))

    def toggle_layer(self, key: str) -> None:
        self.layer_visible[key] = not self.layer_visible[key]
        self.qactions[f"studio:show_{key}"].setChecked(self.layer_visible[key])
        if key in self.views:
            self.views[key].set_visible(self.layer_visible[key])

    def toggle_error(self) -> None:
        self.toolbar.right_mode.setCurrentIndex(0 if self.toolbar.right_mode.currentIndex() else 1)

    def set_right_mode(self, mode: str, fixed_scale: bool = False) -> None:
        self.qactions["studio:show_error"].setChecked(mode == "error")
        self.canvas.show_colorbar(mode == "error")
        if "recon" in self.views:
            self.views["recon"].set_fixed_scale(fixed_scale)
            self.views["recon"].set_mode(mode)
        self._show_error_scale()

    def _show_error_scale(self, *_args) -> None:
        """The right view's title and colour bar name the error map's scale (adaptive or fixed)."""
        view = self.views.get("recon")
        if view is None:
            return
        low, high = view.scale
        self.canvas.colorbar.clim = (low, high)
        kind = "fixed" if view.fixed_scale else "adaptive"
        error = f"Error |reconstruction − original| ({low:g} – {high:.3g}, {kind})"
        self.canvas.right_title.text = error if view.mode == "error" else "Reconstruction"

    def set_engine(self, name: str) -> None:
        if not name or name == self.pipeline.engine.name:
            return
        self._switch_engine(name)

    def _switch_engine(self, name: str) -> bool:
        if not self._apply_engine(name):
            return False
        if self.document is not None:
            self.document.update_settings(engine=name)
            self.pipeline.set_engine(self.pipeline.engine)
        return True

    def open_model(self, path: str | Path, config: str | Path | None = None) -> bool:
        """Switch to the model engine with the checkpoint ``path`` (and YAML ``config`` of an official file)."""
        previous = self.model_path, self.config_path
        self.model_path, self.config_path = str(path), None if config is None else str(config)
        if not self._switch_engine("model"):
            self.model_path, self.config_path = previous
            return False
        self._sync_controls()
        self.status.set_message(f"Model engine: {Path(path).name}")
        return True

    def ask_open_model(self) -> None:
        """Pick a tokenizer checkpoint (ours, a training .pt, or an official file and then its YAML)."""
        from gpstoken.models.checkpoint import needs_config

        path = self.prompts.open_path("Open Model Checkpoint", "", MODEL_FILTER)
        if not path:
            return
        try:
            official = needs_config(path)
        except GPSTokenError as exc:
            self.show_error("Cannot open model", str(exc))
            return
        config = None
        if official:
            config = self.prompts.open_path("Its YAML config", str(Path(path).parent),
                                                    "YAML (*.yaml *.yml)")
            if not config:
                return
        self.open_model(path, config)

    def show_training(self) -> TrainingPanel:
        """Show the Training dock (built on first use; it re-attaches to the last run folder)."""
        if self.training is None:
            self.training = TrainingPanel(self)
            self.training.open_model.connect(self.open_model)
            self.training_dock = self._tab_dock("Training", self.training)
        self._raise(self.training_dock)
        return self.training

    def show_generate(self) -> GeneratePanel:
        """Show the Generate dock (layout sketching, calibration, texture generation, staging)."""
        if self.generation is None:
            self.generation = GeneratePanel(self)
            self.generation_dock = self._tab_dock("Generate", self.generation)
        self._raise(self.generation_dock)
        return self.generation

    def new_sketch(self) -> None:
        self.show_generate().new_blank()

    def new_layout_from_image(self) -> None:
        self.show_generate().new_from_image()

    def _apply_engine(self, name: str) -> bool:
        try:
            engine = create_engine(name, self.model_path, self.config_path, self.base_settings.precision)
        except GPSTokenError as exc:
            self.show_error("Engine unavailable", str(exc))
            self._sync_controls()
            return False
        self.pipeline.engine = engine
        return True

    def fit_view(self) -> None:
        if self.document is not None:
            self.canvas.set_extent(self.document.image_size)

    def _on_full_result(self, result: Result) -> None:
        self.metrics.show_result(result)
        self._record(result, current=True)

    def _on_sweep_point(self, result: Result, tokens_per_tile: int, min_size: int) -> None:
        self._record(result, tokens_per_tile=tokens_per_tile, min_size=min_size, origin="sweep")
        self.workbench.add_frame(result, tokens_per_tile)

    def _record(self, result: Result, current: bool = False, **fresh) -> None:
        doc = self.document
        if doc is not None:
            self.workbench.book.add(record_of(result, doc.settings, tiles=doc.plane.num_tiles, bias=doc.bias.painted(),
                                              checkpoint=self.model_path or "", **fresh), current=current)

    def _sync_controls(self, *_args) -> None:
        tb = self.toolbar
        names = ["fit"] + (["model"] if self.model_path else [])
        with QSignalBlocker(tb.engine):
            tb.engine.clear()
            tb.engine.addItems(names)
            tb.engine.setCurrentText(self.pipeline.engine.name)
        s = self.document.settings if self.document is not None else self.base_settings
        for w, v in ((tb.steps, s.fit_steps), (tb.brush, s.brush_radius), (tb.strength, s.brush_strength)):
            with QSignalBlocker(w):
                w.setValue(v)

    def _update_view_titles(self, *_args) -> None:
        sketch = self.document is not None and self.document.sketch
        self.canvas.left_title.text = "Sketch · g_init (Add tool draws)" if sketch else "Original · partition · g_init"

    def _update_title(self) -> None:
        doc = self.document
        if doc is None:
            self.setWindowTitle("GPSToken Studio")
            return
        name = (doc.project_path or doc.image_path or Path("untitled")).name
        self.setWindowTitle(f"{name}{' *' if doc.history.dirty else ''} — GPSToken Studio")
        self.qactions["studio:undo"].setText(f"Undo {doc.history.undo_name}".strip())
        self.qactions["studio:redo"].setText(f"Redo {doc.history.redo_name}".strip())

    # --- dialogs and events ---------------------------------------------------------------------

    def show_error(self, title: str, message: str) -> None:
        self.status.set_message(message)
        self.prompts.error(title, message)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.actions_registry, self)
        dialog.show()
        return dialog

    def about(self) -> None:
        self.prompts.inform("About GPSToken Studio",
                          "GPSToken Studio: see and steer Gaussian-parameterized spatially-adaptive image tokens.")

    def ask_open(self, filter: str) -> None:
        path = self.prompts.open_path("Open", "", filter)
        if path:
            self.open_path(path)

    def offer_recovery(self) -> bool:
        """Offer the work of editors that ended without saving it (newest first); returns whether one was
        restored. Restored work is an unsaved document whose recovery file stays until it is saved or
        discarded; Discard deletes a file; Ignore (or nobody to answer) keeps it for the next start."""
        for pending in self.autosaver.orphans():
            answer = self.prompts.ask("Recover unsaved work?",
                                      "GPSToken Studio found unsaved work from an editor that ended without "
                                      f"saving it:\n{pending}\n\nOpen restores it, Discard deletes it, "
                                      "Ignore keeps it for the next start.",
                                      QMessageBox.Open | QMessageBox.Discard | QMessageBox.Ignore)
            if answer == QMessageBox.Discard:
                self.autosaver.remove_orphan(pending)
            elif answer == QMessageBox.Open and self.open_path(pending):
                self.autosaver.adopt(pending)
                self.document.project_path = None
                self.document.history.mark_unsaved()
                self.status.set_message(f"Recovered unsaved work ({pending.name}): save it to keep it")
                return True
        return False

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.canvas.pan_button_held = True
        self.explain_disabled_key(event)
        super().keyPressEvent(event)

    def _on_canvas_key(self, event) -> None:
        if event.native is not None:  # the canvas's Qt widget accepts its keys: they never reach keyPressEvent
            self.explain_disabled_key(event.native)

    def explain_disabled_key(self, event) -> None:
        """The key of a disabled action (Qt does not fire it) shows the action's reason in the status bar."""
        pressed = QKeySequence(event.keyCombination())
        for qa in self.qactions.values():
            if not qa.isEnabled() and qa.shortcut().matches(pressed) == QKeySequence.ExactMatch:
                self.status.set_message(qa.statusTip())

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.canvas.pan_button_held = self.interaction.mode == Mode.PAN
        super().keyReleaseEvent(event)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_path(urls[0])
            event.acceptProposedAction()

    def confirm_discard(self, doing: str = "continuing") -> bool:
        """Before the document is replaced or closed: ask to save unsaved edits; False means stop."""
        doc = self.document
        if not self.confirm_close or doc is None or not doc.history.dirty:
            return True
        answer = self.prompts.ask("Unsaved changes", f"Save changes before {doing}?",
                                  QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel)
        if answer == QMessageBox.Discard:
            self.autosaver.discard()
        # nobody to ask: go on; the autosaver keeps the unsaved work in its recovery file
        return answer in (NO_ANSWER, QMessageBox.Discard) or (answer == QMessageBox.Save and self.save())

    def closeEvent(self, event) -> None:
        if not self.confirm_discard("closing"):
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and the worker; unsaved work that nobody saved or discarded stays in its recovery file."""
        if self.training is not None:
            self.training.timer.stop()  # the run itself keeps going: it is in its own session
        self.autosaver.release()
        self.pipeline.set_document(None)
        self.scheduler.shutdown()
        if self.generation is not None:
            self.generation.shutdown()
        self.collector.stop()

    def screenshot_when_ready(self, path: str | Path, timeout_s: float = 300.0, on_done=None) -> None:
        """After the first full result is shown, grab the window into ``path`` and call ``on_done(ok)``; a failed
        full path or an unwritable ``path`` is an error (``show_error``) and ends it too."""
        done = {"fired": False}

        def grab(ok: bool) -> None:
            if done["fired"]:
                return
            done["fired"] = True
            if ok:
                self.canvas.canvas.update()
                if not self.grab().save(str(path)):
                    self.show_error("Screenshot failed", f"cannot write the screenshot {path}")
            if on_done is not None:
                on_done(ok)

        self.pipeline.full_result.connect(lambda _r: QTimer.singleShot(300, lambda: grab(True)))
        self.pipeline.full_failed.connect(lambda message: (self.show_error("Reconstruction failed", message),
                                                           grab(False)))
        QTimer.singleShot(int(timeout_s * 1000), lambda: grab(False))
