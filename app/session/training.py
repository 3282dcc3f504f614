"""Training runs without Qt: the form, the run being followed (a detached ``gpstoken train tokenizer``
process) and its history. Front-ends call ``poll`` on a timer and draw what the events say."""
from __future__ import annotations

from pathlib import Path

from psygnal import Signal, SignalGroup

from gpstoken.errors import GPSTokenError
from gpstoken.train.runner import TrainingRun
from gpstoken_studio.model.training_form import RunHistory, TrainingForm, log_tail, newest_sample, run_models


class TrainingEvents(SignalGroup):
    followed = Signal(object)  # the TrainingRun now followed (its history starts anew unless it is the same run)
    polled = Signal(object)  # the RunHistory after new rows were read
    status = Signal(str)  # one line: started, stopping, stopped, ended with an error
    ended = Signal(str)  # the log tail of a run that failed ("" when it finished or stopped cleanly)


class TrainingModel:
    """Start / stop / resume / extend / attach a tokenizer training run and follow it."""

    def __init__(self) -> None:
        self.form = TrainingForm()
        self.run: TrainingRun | None = None
        self.history = RunHistory()
        self.events = TrainingEvents()

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.running

    @property
    def resumable(self) -> bool:
        return self.run is not None and (self.run.out / "config.json").exists() and not self.running

    def start(self) -> bool:
        """Launch the form's run (a new process session: it outlives the editor)."""
        f = self.form
        if not f.out:
            self.events.status.emit("Choose an output folder first")
            return False
        return self._launch(lambda: TrainingRun.start(f.out, config=f.config, data=f.data or None, args=f.args()))

    def resume(self, extend: int = 0) -> bool:
        """Continue the current run at its last checkpoint, ``extend`` steps past its total when > 0."""
        if self.run is None:
            return False
        out = self.run.out
        args = ["--extend", str(extend)] if extend else []
        return self._launch(lambda: TrainingRun.start(out, resume=not extend, args=args))

    def _launch(self, start) -> bool:
        try:
            run = start()
        except (OSError, GPSTokenError) as exc:
            self.events.status.emit(f"Cannot start: {exc}")
            return False
        self._follow(run, keep_history=self.run is not None and run.out == self.run.out)
        self.events.status.emit(f"Running in {run.out}")
        return True

    def stop(self) -> None:
        """Ask the trainer to save and exit (SIGINT); ``poll`` sees the 'stopped' event."""
        if self.running:
            self.run.stop(timeout=0)
            self.events.status.emit("Stopping (saving a checkpoint)…")

    def attach(self, out: str | Path) -> bool:
        """Follow the run in ``out`` (running or finished), replaying its history."""
        try:
            run = TrainingRun.attach(out)
        except GPSTokenError as exc:
            self.events.status.emit(str(exc))
            return False
        self._follow(run, keep_history=False)
        self.poll()
        return True

    def _follow(self, run: TrainingRun, keep_history: bool) -> None:
        self.run = run
        if not keep_history:
            self.history = RunHistory()
        self.events.followed.emit(run)

    def poll(self) -> bool:
        """Read new rows of the run's log; returns whether its process is still alive (keep polling)."""
        run = self.run
        if run is None:
            return False
        alive = run.running
        for row in run.poll_events():
            self.history.add(row)
        self.events.polled.emit(self.history)
        if not alive:
            self._say_end()
        return alive

    def models(self) -> list[Path]:
        """The run's exported models and checkpoints (any of them opens in the model engine)."""
        return [] if self.run is None else list(run_models(self.run.out))

    def newest_sample(self) -> Path | None:
        return None if self.run is None else newest_sample(self.run.out)

    def _say_end(self) -> None:
        run, h = self.run, self.history
        code = run.process.poll() if run.process is not None else None
        if h.status in ("finished", "stopped") and code in (0, None):
            self.events.status.emit(f"Run {h.status} at step {h.step}")
            self.events.ended.emit("")
            return
        self.events.status.emit(f"Run ended (exit status {code}){': ' + h.message if h.message else ''}")
        self.events.ended.emit(log_tail(run.out))
