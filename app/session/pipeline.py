"""The live pipeline: document edits -> engine jobs -> results back on the document.

During a drag (``final=False`` events) only the engine's fast path runs, coalesced (latest wins);
on release (``final=True``) the full path runs and cancels whatever is stale. A result is applied
only if it is still current: full results for exactly the document revision, fast results if they
are newer than what is shown.

Every re-partition an edit asks for (``Document.request_relayout``: token count, lambda, a brush
stroke, Re-partition) is computed here on the worker. Previews (a stroke in progress, a slider held)
coalesce, latest wins; commits queue in order (fifo jobs) and each becomes one history step on the
front-end's thread when it lands; a commit drops every preview asked for before it.
Nothing here blocks the front-end's thread, and nothing here imports Qt.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
from psygnal import Signal

from gpstoken.partition import max_partition_regions
from gpstoken_studio.engines.base import EngineRequest, metrics_of
from gpstoken_studio.session.jobs import Job, JobScheduler, wait_until
from gpstoken_studio.model.bias import BiasChange
from gpstoken_studio.model.commands import install_result
from gpstoken_studio.model.document import Document, RelayoutRequest
from gpstoken_studio.model.layout import LOCK_FEATURES, LOCK_GEOMETRY, LayoutChange
from gpstoken_studio.model.partitioning import LayoutSource
from gpstoken_studio.model.rate_records import sweep_min_size
from gpstoken_studio.model.result import Result, remap_result

FAST, FULL, LAYOUT, SWEEP, REFINE = "fast", "full", "layout", "sweep", "refine"
PREVIEW_LAYOUT, COMMIT_LAYOUT = "preview-layout", "commit-layout"
SWEEP_COUNTS = (16, 32, 64, 128, 256, 512, 1024, 2048)


class Pipeline:
    """Schedules engine work for one document at a time."""

    message = Signal(str)  # one-line status / error text
    progress = Signal(float, str)  # fraction of the running full job, message
    full_result = Signal(object)  # Result of a finished full path (metrics filled in)
    full_failed = Signal(str)  # the full path of the current document raised (one-line message)
    sweep_point = Signal(object, int, int)  # Result of one count of a rate-quality sweep, its count, min size
    settled = Signal()  # the last queued re-partition commit landed (or was dropped): history is up to date

    def __init__(self, scheduler: JobScheduler, engine) -> None:
        self.scheduler = scheduler
        self.engine = engine
        self.doc: Document | None = None
        self._last_full: Result | None = None  # warm start: the newest full result of this layout
        self._want: str | None = None
        self._engine_key: tuple | None = None
        self._relayouts: dict[int, RelayoutRequest] = {}  # re-partition jobs in flight, by job id
        self._last_commit = 0  # id of the newest commit job: previews asked for before it are stale
        self._refining: Job | None = None  # the Refine job in flight, with the result it started from
        self._refine_from: Result | None = None
        self._refine_best: Result | None = None
        self._flush_queued = False
        scheduler.finished.connect(self._on_finished)
        scheduler.partial.connect(self._on_partial)
        scheduler.failed.connect(self._on_failed)
        scheduler.progress.connect(self._on_progress)
        scheduler.cancelled.connect(self._on_cancelled)

    # --- wiring ---------------------------------------------------------------------------------

    def set_document(self, doc: Document | None) -> None:
        if self.doc is not None:
            self.doc.layout.changed.disconnect(self._on_layout)
            self.doc.bias.changed.disconnect(self._on_bias)
            self.doc.events.settings.disconnect(self._on_settings)
            self.doc.events.image.disconnect(self._on_image)
            self.doc.events.result.disconnect(self._on_result)
            self.doc.events.relayout.disconnect(self._on_relayout)
        self.scheduler.cancel_all()
        self.doc = doc
        self._last_full = None
        self._want = None
        self._relayouts.clear()
        if doc is None:
            return
        doc.layout.changed.connect(self._on_layout)
        doc.bias.changed.connect(self._on_bias)
        doc.events.settings.connect(self._on_settings)
        doc.events.image.connect(self._on_image)
        doc.events.result.connect(self._on_result)
        doc.events.relayout.connect(self._on_relayout)
        self._engine_key = (doc.settings.engine, doc.settings.fit_steps)
        if len(doc.layout):
            self.request(FULL)
        elif not doc.sketch:
            self._submit_layout()

    def set_engine(self, engine) -> None:
        self.engine = engine
        self._last_full = None
        self.request(FULL)

    def seed(self, result: Result) -> None:
        """Warm-start the next run from ``result`` (refined tokens loaded with a project)."""
        self._last_full = result

    # --- model events -> jobs -------------------------------------------------------------------

    def _on_layout(self, change: LayoutChange) -> None:
        if change.action == "locks":
            return  # locks shape the next run; they change nothing shown now
        if change.action == "replace":
            self._last_full = remap_result(self._last_full, self.doc.layout.geometry())  # unchanged regions
        self.request(FULL if change.final else FAST)

    def _on_image(self, _image) -> None:
        """A new image (a candidate accepted, or undone): nothing shown or cached still applies."""
        self._last_full = None
        self.doc.set_result(None)
        self.request(FULL)

    def _on_bias(self, change: BiasChange) -> None:
        """A stroke in progress: preview the re-partition with the bias painted so far."""
        if not change.final and len(self.doc.layout):
            self.doc.request_relayout("Paint density", preview=True)

    def _settings_in_flight(self) -> dict:
        """The settings changes of commits not yet landed, in order: the next re-partition builds on them."""
        changes: dict = {}
        for request in self._relayouts.values():
            if not request.preview:
                changes.update(request.settings)
        return changes

    @property
    def commits_pending(self) -> bool:
        """Re-partitions an edit asked for that are not in the history yet."""
        return any(not request.preview for request in self._relayouts.values())

    def drop_previews(self) -> None:
        """Previews in flight will not be shown (the edit they were for ended without a change)."""
        self._last_commit = max(self._relayouts, default=self._last_commit)

    def _on_relayout(self, request: RelayoutRequest) -> None:
        """Compute a re-partition on the worker: a preview (latest wins) or a commit (in order)."""
        doc = self.doc
        settings = dataclasses.replace(doc.settings, **self._settings_in_flight())
        run = lambda j: request.compute(doc.partitions, settings)  # noqa: E731
        if request.preview:
            job = Job(PREVIEW_LAYOUT, doc.revision, run, owner=doc)
        else:
            job = Job(COMMIT_LAYOUT, doc.revision, run, owner=doc, fifo=True,
                      supersedes=frozenset({FAST, FULL, SWEEP, REFINE, PREVIEW_LAYOUT}))
            self._last_commit = job.id
        self._relayouts[job.id] = request
        self.scheduler.submit(job)

    def _on_settings(self, settings, final: bool) -> None:
        key = (settings.engine, settings.fit_steps)
        if final and key != self._engine_key:
            self.request(FULL)
        self._engine_key = key

    @property
    def idle(self) -> bool:
        """Nothing requested, queued, running or undelivered."""
        return self._want is None and not self._flush_queued and self.scheduler.idle

    def wait_idle(self, timeout: float = 60.0, pump: Callable[[], None] | None = None) -> bool:
        """Drain (or run ``pump``, a turn of the front-end's event loop) until idle (tests and scripts only)."""
        return wait_until(lambda: self.idle, pump or self.scheduler.drain, timeout)

    def request(self, path: str) -> None:
        """Ask for a fast or full run at the scheduler's next drain (coalesces bursts)."""
        if self._want != FULL:
            self._want = path
        if not self._flush_queued:
            self._flush_queued = True
            self.scheduler.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_queued = False
        want, self._want = self._want, None
        doc = self.doc
        if want is None or doc is None or doc.sketch or not len(doc.layout):
            return
        request = self._request(doc)
        if not len(request.rows):
            return
        engine = self.engine
        if want == FAST:  # an edit in progress makes a running full path stale: cancel it
            job = Job(FAST, doc.revision, lambda j: engine.fast(request, j.cancelled),
                      supersedes=frozenset({FULL, SWEEP, REFINE}), owner=doc)
        else:
            job = Job(FULL, doc.revision, lambda j: engine.full(request, j.progress, j.cancelled, j.partial),
                      supersedes=frozenset({FAST, SWEEP, REFINE}), owner=doc)
        self.scheduler.submit(job)

    def _request(self, doc: Document) -> EngineRequest:
        rows = doc.layout.live()
        state = doc.layout.rows(rows)
        mask = doc.bias.mask()
        return EngineRequest(
            revision=doc.revision, image=np.array(doc.image), plane=doc.plane, rows=rows,
            g_init=state.geometry, regions=state.regions, tiles=state.tiles, locks=state.locks,
            previous=self._last_full,
            mask=mask if mask.any() else None, steps=doc.settings.fit_steps,
        )

    def sweep(self, counts: tuple[int, ...] = SWEEP_COUNTS) -> None:
        """Fit fresh partitions at several token counts on the worker (the document is not changed);
        each count's result arrives through ``sweep_point``. Any edit cancels the sweep."""
        doc = self.doc
        if doc is None or not len(doc.layout):
            return
        th, tw = doc.plane.tile_hw
        s = doc.settings
        sizes = {n: sweep_min_size((th, tw), n, s.min_size) for n in counts}  # above 1024 where a size allows
        counts = tuple(n for n in counts if n <= max_partition_regions(th, tw, sizes[n]))
        template = self._request(doc)
        engine, bias = self.engine, doc.bias_for_partition()
        sources = {ms: doc.partitions if ms == s.min_size else LayoutSource(doc.image, doc.plane, ms)
                   for ms in {sizes[n] for n in counts}}

        def run(job: Job) -> None:
            for k, n in enumerate(counts):
                if job.cancelled():
                    return
                job.progress(k / len(counts), f"sweep: {n} tokens per tile")
                state = sources[sizes[n]].layout(n, s.lam, bias)
                rows = np.arange(len(state))
                request = dataclasses.replace(template, rows=rows, g_init=state.geometry, regions=state.regions,
                                              tiles=state.tiles, locks=state.locks, previous=None)
                job.partial((engine.full(request, lambda f, m: None, job.cancelled, lambda r: None), n, sizes[n]))

        self.scheduler.submit(Job(SWEEP, doc.revision, run, owner=doc))

    def refine(self) -> None:
        """Refine the shown model reconstruction on the worker (test-time refinement), showing each improvement;
        the outcome is one undo step. Called again while it runs, it stops and keeps the best state so far."""
        if self._refining is not None:
            self._refining.cancel()
            return
        why = self._refine_problem()
        if why is not None:
            self.message.emit(f"Refine: {why}")
            return
        doc, engine = self.doc, self.engine
        request = dataclasses.replace(self._request(doc), previous=doc.result)
        self._refine_from, self._refine_best = doc.result, None
        run = lambda j: engine.refine(request, j.progress, j.cancelled, j.partial)  # noqa: E731
        self._refining = self.scheduler.submit(Job(REFINE, doc.revision, run, owner=doc))
        self.message.emit("Refining... (Refine again to stop)")

    def _refine_problem(self) -> str | None:
        """Why Refine cannot start now, or None."""
        doc = self.doc
        if doc is None or doc.sketch or not len(doc.layout):
            return "no image is open"
        if not hasattr(self.engine, "refine"):
            return "it refines the model engine's tokens: switch the engine to model"
        shown = doc.result
        if not self.idle or shown is None or shown.partial or shown.path != FULL or shown.engine != self.engine.name:
            return "wait for the model's reconstruction to finish"
        locks = doc.layout.rows(doc.layout.live()).locks
        if (((locks & LOCK_GEOMETRY) != 0) & ((locks & LOCK_FEATURES) != 0)).all():
            return "every token is locked: nothing to refine"
        return None

    def _refine_done(self, job: Job, result: Result | None) -> None:
        """A Refine job ended (finished, cancelled with its best state so far, or failed): install its result as
        one undo step, unless an edit made it stale (that edit's own run follows)."""
        if job is not self._refining:
            return
        self._refining, before = None, self._refine_from
        if not self._mine(job):
            return
        if result is None or result is before:
            self.doc.set_result(before)
            return
        if not result.metrics:
            metrics = metrics_of(np.array(self.doc.image), result.reconstruction, self.doc.bias.mask())
            result = dataclasses.replace(result, metrics=metrics)
        result = dataclasses.replace(result, partial=False)
        self.doc.history.push(install_result(before, result))
        self.full_result.emit(result)
        psnr = result.metrics.get("psnr", 0.0)
        self.message.emit(f"refined: PSNR {psnr:.2f} dB ({psnr - before.metrics.get('psnr', 0.0):+.2f})")

    def _on_result(self, result: Result | None) -> None:
        """Warm starts follow the result shown when undo/redo swaps a refined result in or out."""
        if result is not None and result.path == FULL and not result.partial:
            self._last_full = result

    def _submit_layout(self) -> None:
        doc = self.doc
        s = doc.settings
        bias = doc.bias_for_partition()
        self.message.emit("Partitioning...")
        run = lambda j: doc.partitions.layout(s.tokens_per_tile, s.lam, bias)  # noqa: E731
        self.scheduler.submit(Job(LAYOUT, doc.revision, run, owner=doc))

    # --- results --------------------------------------------------------------------------------

    def _mine(self, job: Job) -> bool:
        """The job was made for the open document at its current revision."""
        return self.doc is not None and job.owner is self.doc and job.revision == self.doc.revision

    def _current(self, job: Job, result: Result) -> bool:
        doc = self.doc
        if doc is None or job.owner is not doc:
            return False
        if job.kind == FULL:
            return job.revision == doc.revision
        shown = doc.result
        newer = shown is None or job.revision > shown.revision
        return newer and job.revision <= doc.revision

    def _on_cancelled(self, job: Job) -> None:
        self._maybe_settled(self._relayouts.pop(job.id, None))
        self._refine_done(job, self._refine_best)

    def _maybe_settled(self, request: RelayoutRequest | None) -> None:
        if request is not None and not request.preview and not self.commits_pending:
            self.settled.emit()

    def _on_partial(self, job: Job, result: Result) -> None:
        if job.kind == REFINE:
            if job is self._refining and self._mine(job):
                self._refine_best = result
                self.doc.set_result(result)
            return
        if job.kind == SWEEP:
            if self._mine(job):
                self.sweep_point.emit(*result)
            return
        if job.kind == FULL and self._current(job, result):
            self._last_full = result
            self.doc.set_result(result)

    def _on_finished(self, job: Job, value) -> None:
        request = self._relayouts.pop(job.id, None)
        if request is not None:
            if job.owner is self.doc and (job.kind == COMMIT_LAYOUT or job.id > self._last_commit):
                command = request.build(value)
                self.doc.history.push(command) if job.kind == COMMIT_LAYOUT else self.doc.preview(command)
            self._maybe_settled(request)
            return
        if job.kind == REFINE:
            self._refine_done(job, value)
            return
        if job.kind == SWEEP:
            self.message.emit("sweep finished")
            return
        if job.kind == LAYOUT:
            if job.owner is self.doc and not len(self.doc.layout):
                self.doc.reset_layout(value)
                self.message.emit(f"{len(value)} tokens")
            return
        if not self._current(job, value):
            return
        if job.kind == FULL:
            self._last_full = value
            self.doc.set_result(value)
            self.full_result.emit(value)
            psnr = value.metrics.get("psnr")
            self.message.emit(f"{self.engine.name}: {len(value.rows)} tokens, "
                              + (f"PSNR {psnr:.2f} dB, " if psnr is not None else "") + f"{value.seconds:.2f} s")
        else:
            self.doc.set_result(value)

    def _on_failed(self, job: Job, message: str) -> None:
        self._maybe_settled(self._relayouts.pop(job.id, None))
        self._refine_done(job, None)
        if job.owner is self.doc:
            self.message.emit(f"{job.kind} failed: {message}")
            if job.kind == FULL:
                self.full_failed.emit(message)

    def _on_progress(self, job: Job, fraction: float, message: str) -> None:
        if job.kind in (FULL, SWEEP, REFINE) and self._mine(job):
            self.progress.emit(fraction, message)
