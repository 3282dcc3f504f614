"""The document: an image, its token layout, painted bias, settings, engine result and history."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
from psygnal import Signal, SignalGroup

from . import commands
from .bias import BiasMap
from .history import History
from .layout import LayoutState, TokenLayout
from .partitioning import LayoutSource
from .plane import Plane
from .result import Result
from .settings import Settings


@dataclass(frozen=True)
class RelayoutRequest:
    """A re-partition to compute, then ``build(partition)`` -> the command to push (or to preview)."""

    settings: dict  # changes of tokens_per_tile / lam over the settings the edit starts from
    bias: np.ndarray | None  # in the partition's units
    build: Callable[[LayoutState], object]
    preview: bool = False

    def compute(self, partitions: LayoutSource, settings: Settings) -> LayoutState:
        """The partition of ``settings`` (with this request's changes) and the request's bias."""
        s = replace(settings, **self.settings)
        return partitions.layout(s.tokens_per_tile, s.lam, self.bias)


class DocumentEvents(SignalGroup):
    settings = Signal(object, bool)  # (Settings, final)
    image = Signal(object)  # the new image array (an accepted generated candidate, or its undo)
    result = Signal(object)  # Result | None
    revision = Signal(int)
    relayout = Signal(object)  # RelayoutRequest: the session computes it on its worker


class Document:
    """Everything the user edits about one image; imports no Qt.

    ``layout`` and ``bias`` emit their own changes; the document emits settings, result and
    revision changes. Only commands (through ``history``) change what is saved.
    """

    def __init__(self, image: np.ndarray, settings: Settings | None = None, *,
                 layout: LayoutState | None = None, bias: np.ndarray | None = None,
                 image_path: str | Path | None = None, sketch: bool = False) -> None:
        image = _frozen(image)
        self.image = image
        self.sketch = sketch  # the image is a blank canvas to sketch a layout on: no engine runs
        self.image_path = None if image_path is None else Path(image_path)
        self.project_path: Path | None = None
        self._settings = settings or Settings()
        self.plane = Plane.for_image(image.shape[:2], self._settings.tile)
        self.layout = TokenLayout(layout)
        self.bias = BiasMap(image.shape[:2], bias)
        self.partitions = LayoutSource(image, self.plane, self._settings.min_size)
        self.result: Result | None = None
        self._committed: LayoutState | None = None  # the layout as history knows it, while a preview shows another
        self.revision = 0
        self.events = DocumentEvents()
        self.history = History(self)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def image_size(self) -> tuple[int, int]:
        return self.image.shape[0], self.image.shape[1]

    def set_settings(self, settings: Settings, *, final: bool = True) -> None:
        if settings != self._settings:
            self._settings = settings
            self.events.settings.emit(settings, final)

    def update_settings(self, *, final: bool = True, **changes) -> None:
        """Change settings that are not part of the saved edit history (engine, brush, steps)."""
        self.set_settings(replace(self._settings, **changes), final=final)

    def set_image(self, image: np.ndarray, *, sketch: bool) -> None:
        """Swap in another image of the same size (only commands call this: accepting a candidate)."""
        image = _frozen(image)
        if image.shape != self.image.shape:
            raise ValueError(f"the new image must be {self.image.shape}, got {image.shape}")
        self.image, self.sketch = image, sketch
        self.partitions = LayoutSource(image, self.plane, self._settings.min_size)
        self.events.image.emit(image)

    def set_result(self, result: Result | None) -> None:
        self.result = result
        self.events.result.emit(result)

    def bump_revision(self) -> None:
        self.revision += 1
        self.events.revision.emit(self.revision)

    def bias_for_partition(self, values: np.ndarray | None = None) -> np.ndarray | None:
        """The painted map scaled to the partition's units, or None when nothing is painted."""
        v = self.bias.values() if values is None else values
        return None if not v.any() else v * np.float32(self._settings.bias_gain)

    def partition(self, tokens_per_tile: int | None = None, lam: float | None = None,
                  bias: np.ndarray | None = None) -> LayoutState:
        """A fresh partition with the current (or given) count, lambda and painted map ``bias`` (computed now)."""
        s = self._settings
        return self.partitions.layout(
            s.tokens_per_tile if tokens_per_tile is None else tokens_per_tile,
            s.lam if lam is None else lam,
            self.bias_for_partition(bias),
        )

    def request_relayout(self, name: str, *, settings: dict | None = None, bias: np.ndarray | None = None,
                         paint=None, preview: bool = False) -> None:
        """Re-partition with ``settings`` changes (token count, lambda) and the painted map ``bias`` (default: the
        current one), then push one undo step (``paint``, the settings, the layout) or show it as a preview.

        The session computes the partition on its worker and commits in request order; a document nobody
        listens to (scripts, tests) computes it now.
        """
        kept = None if preview else settings  # a preview shows the layout; the settings change when it is recorded
        request = RelayoutRequest(dict(settings or {}), self.bias_for_partition(bias),
                                  lambda state: commands.relayout(self, name, state, kept, paint), preview)
        if len(self.events.relayout):
            self.events.relayout.emit(request)
            return
        command = request.build(request.compute(self.partitions, self._settings))
        self.preview(command) if preview else self.history.push(command)

    def preview(self, command) -> None:
        """Show ``command``'s change for an edit still in progress (``final=False``: the fast path), without a
        history step: the command that ends the edit records it once, from ``committed_layout``."""
        if self._committed is None:
            self._committed = self.layout.state()
        command.do(self, final=False)
        self.bump_revision()

    def committed_layout(self) -> LayoutState:
        """The layout as the history knows it (before any preview)."""
        return self.layout.state() if self._committed is None else self._committed

    def cancel_preview(self) -> None:
        """Drop a preview that nothing will record (a slider released where it started): the committed layout
        comes back."""
        if self._committed is not None:
            self.layout.replace(self._committed)
            self._committed = None
            self.bump_revision()

    def end_preview(self) -> None:
        """A command was pushed: what it shows is committed (History calls this)."""
        self._committed = None

    def reset_layout(self, state: LayoutState) -> None:
        """Install a layout that is not an edit (the first partition of a new image); clears history."""
        self.layout.replace(state)
        self.history.clear()
        self.bump_revision()


def _frozen(image: np.ndarray) -> np.ndarray:
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"document image must be uint8 [H, W, 3], got {image.shape}")
    image.setflags(write=False)
    return image
