"""The main window: the Qt front-end of a ``Session`` (canvas, views, panels, actions, dialogs, recovery).

The session holds every piece of state (document, engine, layers, records, generation); the window binds its
widgets to the session's events and sends it commands. Only Qt concerns live here: dialogs, docks, keys."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QWidget

from gpstoken.errors import GPSTokenError
from gpstoken.io.images import save_image
from gpstoken_studio.actions import LAYER_KEYS, ActionRegistry
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.project import SUFFIX
from gpstoken_studio.model.settings import Settings
from gpstoken_studio.session import Session
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
from gpstoken_studio.widgets.toolbar import StudioToolBar, ViewToolBar
from gpstoken_studio.widgets.training_panel import TrainingPanel
from gpstoken_studio.widgets.window_actions import MODEL_FILTER, PROJECT_FILTER, register_actions
from gpstoken_studio.widgets.workbench_panel import WorkbenchPanel


class QtWaker(QObject):
    """Calls ``drain`` on the GUI thread whenever the session's workers (any thread) have events waiting."""

    woken = Signal()

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.drain = lambda: None
        self.woken.connect(lambda: self.drain(), Qt.QueuedConnection)  # queued even from the GUI thread: coalesces


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
        self.views: dict[str, object] = {}

        self.collector = MainThreadCollector(self)  # before any worker thread exists
        waker = QtWaker(self)
        self.session = Session(settings, model, config, wake=waker.woken.emit)
        waker.drain = self.session.drain
        self.pipeline, self.scheduler = self.session.pipeline, self.session.scheduler
        self.canvas = StudioCanvas()
        self.setCentralWidget(self.canvas.native)
        self.interaction = Interaction(self.canvas, self.session.tools)
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
        self.view_bar = ViewToolBar(self)
        self.addToolBar(self.view_bar)
        self.toolbar.tokens.session = self.session
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
        self.workbench = WorkbenchPanel(self.session.rates, self)  # the rate-quality records, a tab beside the plot
        self.tabifyDockWidget(docks[2], self._dock("Workbench", scrolled(self.workbench)))
        self.resizeDocks([docks[0], docks[1], self.findChild(QDockWidget, "Region"), docks[2]], [340, 150, 150, 220],
                         Qt.Vertical)  # the column with Region in it: the Inspector's tabs keep the largest share
        self.rate_plot.set_book(self.workbench.book)
        docks[2].raise_()
        self._connect()
        self.set_mode(Mode.SELECT)
        self._sync_controls()

    # --- the session's state, as the window's widgets and tests read it -------------------------

    @property
    def document(self) -> Document | None:
        return self.session.document

    @property
    def model_path(self) -> str | None:
        return self.session.model_path

    @property
    def config_path(self) -> str | None:
        return self.session.config_path

    @property
    def base_settings(self) -> Settings:
        return self.session.base_settings

    @property
    def layer_visible(self) -> dict[str, bool]:
        return self.session.layers

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Run the event loop until the live pipeline is idle (a generation may go on); tests and --screenshot
        only: the GUI never waits."""
        from PySide6.QtCore import QCoreApplication

        return self.pipeline.wait_idle(timeout, pump=QCoreApplication.processEvents)

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
        tb, events = self.toolbar, self.session.events
        events.busy.connect(self.status.set_busy)
        events.message.connect(self.status.set_message)
        events.progress.connect(self.status.set_progress)
        events.error.connect(self.show_error)
        events.document.connect(self._on_document)
        events.engine.connect(self._sync_controls)
        events.layer.connect(self._on_layer)
        self.pipeline.full_result.connect(self.metrics.show_result)
        self.pipeline.sweep_point.connect(lambda result, count, _ms: self.workbench.add_frame(result, count))
        self.workbench.sweep_button.clicked.connect(lambda: self.session.sweep())
        self.workbench.export_button.clicked.connect(self.ask_export_workbench)
        self.region_panel.export_button.clicked.connect(self.ask_export_region)
        self.autosaver.saved.connect(self.status.set_message)
        self.autosaver.failed.connect(self.status.set_message)
        self.interaction.hover.connect(lambda p: self.status.set_position(float(p[0]), float(p[1])))
        self.canvas.canvas.events.key_press.connect(self._on_canvas_key)
        tb.engine.currentTextChanged.connect(self.set_engine)
        tb.steps.valueChanged.connect(lambda n: self.session.update_settings(fit_steps=int(n)))
        tb.brush.valueChanged.connect(lambda v: self.session.update_settings(brush_radius=float(v)))
        tb.strength.valueChanged.connect(lambda v: self.session.update_settings(brush_strength=float(v)))
        self.view_bar.swipe.valueChanged.connect(lambda v: self.views.get("swipe") and self.views["swipe"].set_position(v / 100))
        self.view_bar.right_mode.currentIndexChanged.connect(lambda _i: self.set_right_mode(*self.view_bar.right_view()))
        for key in LAYER_KEYS:
            self.qactions[f"studio:show_{key}"].setChecked(self.layer_visible[key])

    # --- documents ------------------------------------------------------------------------------

    def open_path(self, path: str | Path) -> bool:
        """Open an image or a project file (after asking about unsaved work); errors show in a dialog."""
        return self.confirm_discard() and self.session.open_path(path)

    def set_document(self, doc: Document | None) -> None:
        self.session.set_document(doc)

    def _on_document(self, doc: Document | None) -> None:
        """The session has a new document: rebuild the views and rebind the panels."""
        for view in self.views.values():
            view.close()
        self.views = {}
        if doc is not None:
            left, right = self.canvas.left.scene, self.canvas.right.scene
            self.views = {
                "image": ImageView(doc, left), "swipe": SwipeView(doc, left), "density": DensityView(doc, left),
                "regions": RegionsView(doc, left), "refined": RefinedEllipsesView(doc, left),
                "ginit": GInitEllipsesView(doc, left), "recon": ReconstructionView(doc, right),
                "handles": HandlesView(doc, self.canvas),
            }
            for key in LAYER_KEYS:
                self.views[key].set_visible(self.layer_visible[key])
            self.views["swipe"].set_position(self.view_bar.swipe.value() / 100)
            mode, fixed_scale = self.view_bar.right_view()
            self.views["recon"].set_mode(mode)
            self.views["recon"].set_fixed_scale(fixed_scale)
            self.views["recon"].scale_changed.connect(self._show_error_scale)
            self.canvas.set_extent(doc.image_size)
            doc.history.changed.connect(self._update_title)
            doc.events.settings.connect(self._sync_controls)
            doc.events.image.connect(self._update_view_titles)
        self.workbench.filmstrip.remove_all()
        self.workbench.image = str(doc.image_path) if doc is not None and doc.image_path else "IMAGE"
        self.region_panel.set_document(doc)
        self.inspector.set_document(doc)
        self.region_actions.set_document(doc)
        self.toolbar.tokens.set_document(doc)
        self.autosaver.set_document(doc)
        self.metrics.show_result(None)
        self._sync_controls()
        self._update_title()
        self._update_view_titles()
        self.document_changed.emit(doc)

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
        if not self.session.save_project(path):
            return False
        self.autosaver.discard()
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
        return self.session.export("reconstruction", path)

    def export_tokens(self, path: str | Path) -> bool:
        return self.session.export("tokens", path)

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
        return self.session.export("rates", path)

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

    def delete_selected(self) -> None:
        self.session.delete_selected()

    def lock(self, bits: int, on: bool) -> None:
        self.session.lock(bits, on)

    def repartition(self) -> None:
        self.session.repartition()

    def set_mode(self, mode: Mode) -> None:
        self.session.tools.set_mode(mode)
        self.canvas.pan_button_held = False
        qa = self.qactions[f"studio:tool_{Mode(mode).value}"]
        if not qa.isChecked():
            qa.setChecked(True)
        self.canvas.native.setCursor(Qt.OpenHandCursor if mode == Mode.PAN else
                                     Qt.CrossCursor if mode in (Mode.ADD, Mode.BRUSH, Mode.ERASER) else Qt.ArrowCursor)

    def toggle_layer(self, key: str) -> None:
        self.session.toggle_layer(key)

    def _on_layer(self, key: str, visible: bool) -> None:
        self.qactions[f"studio:show_{key}"].setChecked(visible)
        if key in self.views:
            self.views[key].set_visible(visible)

    def toggle_error(self) -> None:
        self.view_bar.right_mode.setCurrentIndex(0 if self.view_bar.right_mode.currentIndex() else 1)

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
        self.session.set_engine(name)

    def open_model(self, path: str | Path, config: str | Path | None = None) -> bool:
        """Switch to the model engine with the checkpoint ``path`` (and YAML ``config`` of an official file)."""
        return self.session.open_model(path, config)

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
            self.training = TrainingPanel(self, model=self.session.training)
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

    def fit_view(self) -> None:
        if self.document is not None:
            self.canvas.set_extent(self.document.image_size)

    def _sync_controls(self, *_args) -> None:
        tb = self.toolbar
        with QSignalBlocker(tb.engine):
            tb.engine.clear()
            tb.engine.addItems(self.session.engine_names())
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

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_view_bar()

    def _place_view_bar(self) -> None:
        """The view bar sits beside the tool bar when both fit, else on a row of its own (no controls
        hidden in an overflow menu)."""
        below = self.toolbar.sizeHint().width() + self.view_bar.sizeHint().width() > self.width()
        if below and not self.toolBarBreak(self.view_bar):
            self.insertToolBarBreak(self.view_bar)
        elif not below and self.toolBarBreak(self.view_bar):
            self.removeToolBarBreak(self.view_bar)

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
        self.session.shutdown()
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
