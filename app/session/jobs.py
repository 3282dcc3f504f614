"""The job scheduler: engine work runs on one worker thread, never on the front-end's thread.

- Every job is tagged with the document revision it was made from; the receiver drops stale results.
- Latest wins: a submitted job replaces a pending job of the same kind (drags coalesce), and
  cancels the running job cooperatively when the running kind is in its ``supersedes`` set.
  A ``fifo`` job is a command in a queue: it never replaces nor is replaced, and runs in its turn.
- Jobs report progress and partial results. The worker only queues events and calls ``wake``; the
  front-end then calls ``drain()`` on its own thread, which emits every public signal there. Qt binds
  ``wake`` to a queued signal, the browser to a next-tick callback; without one, ``wait_idle`` drains.
- ``call_soon(fn)`` queues a call for the next drain: how the pipeline coalesces a burst of requests.

Imports no Qt.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from psygnal import Signal

from gpstoken.errors import Cancelled, GPSTokenError

_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One unit of engine work; ``run(job)`` executes on the worker."""

    kind: str
    revision: int
    run: Callable[["Job"], Any]
    supersedes: frozenset = frozenset()
    owner: object = None  # what the job is for (the document): receivers drop results of other owners
    fifo: bool = False  # queued in order: never coalesced with other jobs of its kind
    id: int = field(default_factory=lambda: next(_ids))
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _events: "queue.Queue | None" = field(default=None, repr=False)
    _wake: Callable[[], None] | None = field(default=None, repr=False)
    started: float = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, fraction: float, message: str = "") -> None:
        self._post("progress", (float(fraction), message))

    def partial(self, value: Any) -> None:
        self._post("partial", value)

    def _post(self, what: str, value: Any) -> None:
        if self._events is not None:
            self._events.put((what, self, value))
            self._wake()


def wait_until(done: Callable[[], bool], step: Callable[[], None], timeout: float) -> bool:
    """Run ``step`` (a drain, or a turn of the front-end's event loop) until ``done()``; False on timeout.
    Tests and scripts only: front-ends never wait."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        step()
        if done():
            return True
        time.sleep(0.002)
    return False


class JobScheduler:
    """Runs jobs one at a time on a daemon worker thread; the latest job of each kind wins."""

    finished = Signal(object, object)  # (job, value)
    failed = Signal(object, str)  # (job, one-line message)
    cancelled = Signal(object)  # (job) it stopped early on request
    progress = Signal(object, float, str)  # (job, fraction, message)
    partial = Signal(object, object)  # (job, value)
    busy_changed = Signal(bool)

    def __init__(self, wake: Callable[[], None] | None = None) -> None:
        self.wake = wake or (lambda: None)  # called from any thread when events wait for ``drain``
        self._lock = threading.Condition()
        self._pending: dict[object, Job] = {}  # by kind, or by (kind, id) for fifo jobs
        self._order: list[object] = []
        self._running: Job | None = None
        self._events: queue.Queue = queue.Queue()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="gpstoken-jobs", daemon=True)
        self._thread.start()

    # --- front-end thread API -------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        """Queue ``job``; it replaces a pending job of its kind and cancels superseded work."""
        job._events, job._wake = self._events, self.wake
        key = (job.kind, job.id) if job.fifo else job.kind
        with self._lock:
            for old_key, old in list(self._pending.items()):
                if old_key == key or (old.kind in job.supersedes and not old.fifo):
                    del self._pending[old_key]
                    self._order.remove(old_key)
            running = self._running
            if running is not None and not running.fifo and (running.kind in job.supersedes or running.kind == job.kind):
                running.cancel()
            self._pending[key] = job
            self._order.append(key)
            self._lock.notify()
        self._set_busy(True)
        return job

    def cancel_all(self, keep_fifo: bool = False) -> None:
        """Drop pending jobs and cancel the running one (``keep_fifo``: queued commands still run)."""
        with self._lock:
            for key, job in list(self._pending.items()):
                if not (keep_fifo and job.fifo):
                    del self._pending[key]
                    self._order.remove(key)
            if self._running is not None and not (keep_fifo and self._running.fifo):
                self._running.cancel()

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the front-end's thread at the next ``drain``."""
        self._events.put(("call", None, fn))
        self.wake()

    @property
    def idle(self) -> bool:
        """No job pending or running, and every event delivered."""
        with self._lock:
            return not self._pending and self._running is None and self._events.empty()

    def shutdown(self) -> None:
        self.cancel_all()
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout=5)

    # --- worker thread --------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._lock.wait()
                if self._stopping:
                    return
                key = self._order.pop(0)
                job = self._pending.pop(key)
                self._running = job
            job.started = time.perf_counter()
            try:
                if job.cancelled():
                    raise Cancelled()
                value = job.run(job)
                outcome = ("cancelled", None) if job.cancelled() else ("finished", value)
            except Cancelled:
                outcome = ("cancelled", None)
            except GPSTokenError as exc:
                outcome = ("failed", str(exc))
            except Exception as exc:  # engine bugs must not kill the worker; show them
                traceback.print_exc()
                outcome = ("failed", f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._running = None
            self._events.put((outcome[0], job, outcome[1]))
            self.wake()

    # --- back on the front-end's thread ---------------------------------------------------------

    def drain(self) -> None:
        """Deliver every queued event as signals (and queued calls) on the calling thread."""
        while True:
            try:
                what, job, value = self._events.get_nowait()
            except queue.Empty:
                break
            if what == "call":
                value()
            elif what == "progress":
                self.progress.emit(job, *value)
            elif what == "partial":
                if not job.cancelled():
                    self.partial.emit(job, value)
            elif what == "finished":
                self.finished.emit(job, value)
            elif what == "failed":
                self.failed.emit(job, value)
            elif what == "cancelled":
                self.cancelled.emit(job)
        with self._lock:
            busy = bool(self._pending) or self._running is not None
        self._set_busy(busy)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)
