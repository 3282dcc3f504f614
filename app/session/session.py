"""The editing session without Qt: one document at a time, the engine choice, layer visibility, the tool
mode, the rate-quality records, generation, training runs and the live pipeline, each with its own events.

Front-ends (the Qt window, the browser page) bind to the events and send commands; none of them holds
state of its own. Every method runs on the front-end's thread; engine work runs on the scheduler's
worker and comes back through ``drain()`` (the front-end calls it when ``wake`` fires, or
``wait_idle`` does in scripts and tests). Errors a user must see come as ``events.error(title, text)``
and change nothing.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
from psygnal import Signal, SignalGroup

from gpstoken.errors import GPSTokenError
from gpstoken.io.images import load_image
from gpstoken.partition import max_partition_regions
from gpstoken_studio.engines.registry import create_engine
from gpstoken_studio.model import commands
from gpstoken_studio.model.document import Document
from gpstoken_studio.model.export import export_reconstruction, export_tokens
from gpstoken_studio.model.project import SUFFIX, ProjectData, load_project, save_project, snapshot
from gpstoken_studio.model.rate_records import RateBook, record_of
from gpstoken_studio.model.region_edits import apply_region_edit
from gpstoken_studio.model.result import Result
from gpstoken_studio.model.settings import Settings
from gpstoken_studio.session.generation import GenerationModel
from gpstoken_studio.session.jobs import JobScheduler, wait_until
from gpstoken_studio.session.pipeline import FULL, Pipeline
from gpstoken_studio.session.training import TrainingModel
from gpstoken_studio.tools.driver import ToolDriver

# (key, title): the layers of the left view that can be shown or hidden
LAYERS = (("regions", "Partition rectangles"), ("ginit", "g_init ellipses"), ("refined", "Refined ellipses"),
          ("density", "Density overlay"))


class SessionEvents(SignalGroup):
    document = Signal(object)  # Document | None: a new document replaced the old one
    engine = Signal(str)  # the engine's name after a switch (or a new model file)
    layer = Signal(str, bool)  # (layer key, visible)
    message = Signal(str)  # one-line status text
    progress = Signal(float, str)  # fraction of the running job, its message
    busy = Signal(bool)  # the worker has jobs
    error = Signal(str, str)  # (title, one-line message): something the user asked for failed; nothing changed


class Session:
    """Everything one editor window (or browser tab) works on; imports no Qt."""

    def __init__(self, settings: Settings | None = None, model: str | Path | None = None,
                 config: str | Path | None = None, wake: Callable[[], None] | None = None) -> None:
        self.base_settings = settings or Settings()
        self.model_path = None if model is None else str(model)
        self.config_path = None if config is None else str(config)
        self.document: Document | None = None
        self.layers = {key: key != "refined" for key, _ in LAYERS}
        self.events = SessionEvents()
        self.scheduler = JobScheduler(wake)
        engine = create_engine(self.base_settings.engine, self.model_path, self.config_path,
                               self.base_settings.precision)
        self.pipeline = Pipeline(self.scheduler, engine)
        self.rates = RateBook()
        self.tools = ToolDriver()  # the tool mode and the drag in progress
        self.generation = GenerationModel(self, wake)
        self.training = TrainingModel()
        self._after_commits: list[Callable] = []  # undo/redo asked for while edits were still being recorded
        self.pipeline.settled.connect(self._run_after_commits)
        self.scheduler.busy_changed.connect(self.events.busy.emit)
        self.pipeline.message.connect(self.events.message.emit)
        self.pipeline.progress.connect(self.events.progress.emit)
        self.pipeline.full_result.connect(lambda r: self._record(r, current=True))
        self.pipeline.sweep_point.connect(
            lambda r, n, ms: self._record(r, tokens_per_tile=n, min_size=ms, origin="sweep"))

    # --- the front-end's loop ---------------------------------------------------------------------

    def drain(self) -> None:
        """Deliver the worker's events (results, progress) on this thread."""
        self.scheduler.drain()
        self.generation.scheduler.drain()

    @property
    def idle(self) -> bool:
        return self.pipeline.idle and self.generation.idle

    def wait_idle(self, timeout: float = 60.0, pump: Callable[[], None] | None = None) -> bool:
        """Drain (or run ``pump``) until no engine work is requested, queued, running or undelivered."""
        return wait_until(lambda: self.idle, pump or self.drain, timeout)

    def shutdown(self) -> None:
        self.pipeline.set_document(None)
        self.scheduler.shutdown()
        self.generation.shutdown()

    # --- documents --------------------------------------------------------------------------------

    @property
    def engine(self):
        return self.pipeline.engine

    def new_settings(self) -> Settings:
        """Settings of a new document: the session's defaults with the engine in use."""
        return dataclasses.replace(self.base_settings, engine=self.engine.name)

    def open_path(self, path: str | Path) -> bool:
        """Open an image or a project file; a failure is an ``error`` event and changes nothing."""
        p = Path(path)
        try:
            if p.suffix.lower() == SUFFIX:
                self.open_project(p)
            else:
                self.open_image(p)
            return True
        except GPSTokenError as exc:
            self.events.error.emit("Cannot open file", str(exc))
            return False

    def open_image(self, path: str | Path, settings: Settings | None = None) -> Document:
        image = load_image(path)
        doc = Document(image, settings or self.new_settings(), image_path=path)
        self.set_document(doc)
        self.events.message.emit(f"Opened {Path(path).name} ({image.shape[1]}x{image.shape[0]})")
        return doc

    def open_array(self, image: np.ndarray, name: str = "untitled.png", sketch: bool = False,
                   settings: Settings | None = None) -> Document:
        """A document of an image already in memory (an upload, a blank canvas)."""
        doc = Document(image, settings or self.new_settings(), image_path=None if sketch else name, sketch=sketch)
        self.set_document(doc)
        return doc

    def open_project(self, path: str | Path) -> Document:
        data = load_project(path)  # raises before anything changes
        doc = Document(data.image, data.settings, layout=data.layout, bias=data.bias,
                       image_path=data.image_name or None, sketch=data.sketch)
        doc.project_path = Path(path)
        self.set_document(doc, data)
        self.events.message.emit(f"Opened project {Path(path).name}")
        return doc

    def set_document(self, doc: Document | None, data: ProjectData | None = None) -> None:
        """Replace the document (no question asked: front-ends ask about unsaved work first)."""
        self.tools.set_document(doc)
        self._after_commits.clear()
        self.document = doc
        if doc is not None and doc.settings.engine != self.engine.name:
            self._apply_engine(doc.settings.engine)
        self.rates.clear()
        self.pipeline.set_document(doc)
        if doc is not None:
            doc.history.mark_saved()
            if data is not None and data.tokens is not None:
                self._seed_from_project(doc, data)
        self.events.document.emit(doc)

    def _seed_from_project(self, doc: Document, data: ProjectData) -> None:
        """The saved refined tokens warm-start the first full path of the reopened document."""
        rows = data.token_rows
        self.pipeline.seed(Result(revision=doc.revision, path=FULL, engine=doc.settings.engine, rows=rows,
                                  g_init=doc.layout.geometry()[rows], tokens=data.tokens,
                                  reconstruction=np.zeros(doc.image_size + (3,), np.float32),
                                  features=data.features))

    def save_project(self, path: str | Path) -> bool:
        doc = self.document
        if doc is None:
            return False
        try:
            save_project(snapshot(doc), path)
        except (OSError, GPSTokenError) as exc:
            self.events.error.emit("Cannot save project", str(exc))
            return False
        doc.project_path = Path(path)
        doc.history.mark_saved()
        self.events.message.emit(f"Saved {Path(path).name}")
        return True

    def export(self, kind: str, path: str | Path) -> bool:
        """Write ``kind`` ("reconstruction" PNG, "tokens" npz, "rates" CSV) to ``path``."""
        doc = self.document
        if doc is None:
            return False
        writers = {"reconstruction": lambda: export_reconstruction(doc, path),
                   "tokens": lambda: export_tokens(doc, path),
                   "rates": lambda: self.export_rates(path)}
        try:
            writers[kind]()
        except (OSError, GPSTokenError) as exc:
            self.events.error.emit("Export failed", str(exc))
            return False
        self.events.message.emit(f"Exported {Path(path).name}")
        return True

    def export_rates(self, path: str | Path) -> None:
        """The rate-quality records as CSV; a painted bias is written beside it (``-bias.npy``) for --bias."""
        doc, bias_file = self.document, Path(path).with_name(Path(path).stem + "-bias.npy")
        image = str(doc.image_path) if doc.image_path else "IMAGE"
        self.rates.export_csv(path, image, bias_file.name)
        if doc.bias.painted():
            from gpstoken.io.atomic import atomic_path

            with atomic_path(bias_file) as tmp:
                np.save(tmp, doc.bias_for_partition())

    # --- edits --------------------------------------------------------------------------------------

    def push(self, command) -> None:
        """Run an edit command on the document as one undo step (None: nothing to do)."""
        if command is not None and self.document is not None:
            self.document.history.push(command)

    def undo(self) -> bool:
        """Undo the last edit. A drag in progress is finished first, and an edit whose re-partition is still on
        the worker is recorded first (the undo waits for it), so the edit undone is always the newest."""
        return self._in_order(lambda history: history.undo())

    def redo(self) -> bool:
        return self._in_order(lambda history: history.redo())

    def _in_order(self, step: Callable) -> bool:
        self.tools.cancel_drag()
        if self.document is None:
            return False
        if self.pipeline.commits_pending:
            self._after_commits.append(step)
            return True
        return step(self.document.history)

    def _run_after_commits(self) -> None:
        steps, self._after_commits = self._after_commits, []
        for step in steps:
            if self.document is not None:
                step(self.document.history)

    def select(self, rows) -> None:
        if self.document is not None:
            self.document.layout.select(np.asarray(rows, np.int64))

    def select_all(self) -> None:
        if self.document is not None:
            self.select(self.document.layout.live())

    def delete_selected(self) -> None:
        doc = self.document
        if doc is not None:
            self.push(commands.delete_tokens(doc, doc.layout.selection()))

    def lock(self, bits: int, on: bool) -> None:
        doc = self.document
        if doc is not None:
            self.push(commands.set_locks(doc, doc.layout.selection(), bits, on))

    def edit_regions(self, name: str) -> bool:
        """Split ("split") the one selected token's region or merge ("merge") two selected adjacent ones, as
        one undo step; why it cannot is an ``error`` event."""
        if self.document is None:
            return False
        try:
            message = apply_region_edit(self.document, name)
        except GPSTokenError as exc:
            self.events.error.emit(f"Cannot {name}", str(exc))
            return False
        self.events.message.emit(message)
        return True

    def step_token_count(self, factor: float) -> None:
        """Multiply the token count (PageUp / PageDown), within 1 and the most regions a tile can hold."""
        doc = self.document
        if doc is not None:
            most = max_partition_regions(*doc.plane.tile_hw, doc.settings.min_size)
            self.set_token_count(int(min(max(round(doc.settings.tokens_per_tile * factor), 1), most)))

    def scale_brush(self, factor: float) -> None:
        """Multiply the brush radius ([ and ]), within 1 and 512 pixels."""
        doc = self.document
        if doc is not None:
            self.update_settings(brush_radius=float(min(max(doc.settings.brush_radius * factor, 1.0), 512.0)))

    def set_token_count(self, count: int, preview: bool = False) -> None:
        """Tokens per tile: re-partitioned on the worker, then one undo step (``preview``: shown only, while a
        slider is held; the release sets it for good)."""
        self._relayout("Token count", "tokens_per_tile", int(count), preview)

    def set_lambda(self, lam: float, preview: bool = False) -> None:
        self._relayout("Lambda", "lam", float(lam), preview)

    def _relayout(self, name: str, key: str, value, preview: bool) -> None:
        doc = self.document
        if doc is None or not len(doc.layout):
            return
        if preview or value != getattr(doc.settings, key):
            doc.request_relayout(name, settings={key: value}, preview=preview)
        else:  # back where it started: nothing to record
            self.pipeline.drop_previews()
            doc.cancel_preview()

    def repartition(self) -> None:
        """Drop layout edits: the partition of the current count, lambda and bias (one undo step)."""
        doc = self.document
        if doc is not None and len(doc.layout):
            doc.request_relayout("Re-partition")

    def update_settings(self, **changes) -> None:
        """Settings outside the edit history (fit steps, brush radius and strength)."""
        if self.document is not None:
            self.document.update_settings(**changes)

    def cancel(self) -> None:
        """Stop the engine work in progress (the live reconstruction, a sweep, a refinement, a generation);
        queued edits (re-partitions waiting to be recorded) still land."""
        self.scheduler.cancel_all(keep_fifo=True)
        self.generation.cancel()

    def rerun(self) -> None:
        self.pipeline.request(FULL)

    def sweep(self) -> None:
        self.pipeline.sweep()

    def refine(self) -> None:
        self.pipeline.refine()

    # --- engines ------------------------------------------------------------------------------------

    def engine_names(self) -> list[str]:
        return ["fit"] + (["model"] if self.model_path else [])

    def set_engine(self, name: str) -> bool:
        """Switch the engine ("fit" or "model"); the document's result is recomputed with it."""
        if not name or name == self.engine.name:
            return True
        if not self._apply_engine(name):
            return False
        if self.document is not None:
            self.document.update_settings(engine=name)
            self.pipeline.set_engine(self.engine)
        return True

    def open_model(self, path: str | Path, config: str | Path | None = None) -> bool:
        """Switch to the model engine with the checkpoint ``path`` (and YAML ``config`` of an official file)."""
        previous = self.model_path, self.config_path
        self.model_path, self.config_path = str(path), None if config is None else str(config)
        if self.engine.name == "model":
            ok = self._apply_engine("model")
            if ok and self.document is not None:
                self.pipeline.set_engine(self.engine)
        else:
            ok = self.set_engine("model")
        if not ok:
            self.model_path, self.config_path = previous
            return False
        self.events.message.emit(f"Model engine: {Path(path).name}")
        return True

    def _apply_engine(self, name: str) -> bool:
        try:
            engine = create_engine(name, self.model_path, self.config_path, self.base_settings.precision)
        except GPSTokenError as exc:
            self.events.error.emit("Engine unavailable", str(exc))
            self.events.engine.emit(self.engine.name)
            return False
        self.pipeline.engine = engine
        self.events.engine.emit(name)
        return True

    # --- views --------------------------------------------------------------------------------------

    def set_layer(self, key: str, visible: bool) -> None:
        if key not in self.layers:
            raise KeyError(f"no layer {key!r}; layers: {', '.join(self.layers)}")
        if self.layers[key] != visible:
            self.layers[key] = bool(visible)
            self.events.layer.emit(key, bool(visible))

    def toggle_layer(self, key: str) -> None:
        self.set_layer(key, not self.layers[key])

    # --- records ------------------------------------------------------------------------------------

    def _record(self, result: Result, current: bool = False, **fresh) -> None:
        doc = self.document
        if doc is not None:
            self.rates.add(record_of(result, doc.settings, tiles=doc.plane.num_tiles, bias=doc.bias.painted(),
                                     checkpoint=self.model_path or "", **fresh), current=current)
