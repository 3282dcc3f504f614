"""The Qt-free job scheduler: latest wins per kind, fifo jobs queue in order, events arrive on drain."""
from __future__ import annotations

import threading

from gpstoken_studio.session.jobs import Job, JobScheduler, wait_until


def blocked_scheduler():
    """A scheduler whose worker is held inside a first job until ``gate`` is set."""
    gate = threading.Event()
    woken = threading.Event()
    scheduler = JobScheduler(wake=woken.set)
    scheduler.submit(Job("hold", 0, lambda j: gate.wait(10)))
    assert wait_until(lambda: scheduler._running is not None, lambda: None, 10)
    return scheduler, gate, woken


def finished_values(scheduler: JobScheduler) -> list:
    seen = []
    scheduler.finished.connect(lambda job, value: seen.append(value))
    return seen


def test_a_pending_job_is_replaced_by_a_newer_one_of_its_kind():
    scheduler, gate, _ = blocked_scheduler()
    seen = finished_values(scheduler)
    for k in range(3):
        scheduler.submit(Job("fast", 0, lambda j, k=k: k))
    gate.set()
    assert wait_until(lambda: scheduler.idle, scheduler.drain, 10)
    assert seen == [True, 2]
    scheduler.shutdown()


def test_fifo_jobs_all_run_in_order_and_survive_a_job_that_supersedes_their_kind():
    scheduler, gate, _ = blocked_scheduler()
    seen = finished_values(scheduler)
    for k in range(3):
        scheduler.submit(Job("commit", 0, lambda j, k=k: f"commit {k}", fifo=True))
    scheduler.submit(Job("full", 0, lambda j: "full", supersedes=frozenset({"commit"})))
    gate.set()
    assert wait_until(lambda: scheduler.idle, scheduler.drain, 10)
    assert seen == [True, "commit 0", "commit 1", "commit 2", "full"]
    scheduler.shutdown()


def test_calls_and_results_are_delivered_only_by_drain_on_the_calling_thread_after_a_wake():
    scheduler, gate, woken = blocked_scheduler()
    seen, threads = [], []
    scheduler.finished.connect(lambda job, value: (seen.append(value), threads.append(threading.get_ident())))
    scheduler.call_soon(lambda: seen.append("call"))
    gate.set()
    assert woken.wait(10)
    assert wait_until(lambda: scheduler._running is None and scheduler._events.qsize() >= 2, lambda: None, 10)
    assert seen == []  # nothing happens until the front-end drains
    scheduler.drain()
    assert seen == ["call", True] and threads == [threading.get_ident()]
    scheduler.shutdown()


def test_a_failing_job_is_one_line_and_the_worker_keeps_going():
    scheduler = JobScheduler()
    failures, seen = [], finished_values(scheduler)
    scheduler.failed.connect(lambda job, message: failures.append(message))
    scheduler.submit(Job("a", 0, lambda j: 1 / 0, fifo=True))
    scheduler.submit(Job("b", 0, lambda j: "after", fifo=True))
    assert wait_until(lambda: scheduler.idle, scheduler.drain, 10)
    assert failures == ["ZeroDivisionError: division by zero"] and seen == ["after"]
    scheduler.shutdown()


def test_cancelling_the_work_keeps_queued_commands():
    scheduler, gate, _ = blocked_scheduler()
    seen = finished_values(scheduler)
    scheduler.submit(Job("fast", 0, lambda j: "fast"))
    scheduler.submit(Job("commit", 0, lambda j: "commit", fifo=True))
    scheduler.cancel_all(keep_fifo=True)
    gate.set()
    assert wait_until(lambda: scheduler.idle, scheduler.drain, 10)
    assert seen == ["commit"]  # the held job was cancelled, the pending fast job dropped
    scheduler.shutdown()
