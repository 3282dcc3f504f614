"""Region analytics: token count, area share and quality inside/outside a region, before and after the
last change, with pinned snapshots (A/B) to compare; exported as CSV or JSON. Imports no Qt.

The region is the whole image, the lasso/rubber-band selection (the union of the selected tokens' regions)
or the painted density. "After" is the newest full result, "before" the full result shown before it, both
measured on the region as it is now.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from psygnal import Signal, SignalGroup

from gpstoken.errors import GPSTokenError
from gpstoken.io.atomic import atomic_path
from gpstoken.region_metrics import REGION_METRICS, SIDES, centres_in_mask, region_quality

from .document import Document
from .result import Result

SOURCES = ("image", "selection", "painted")
METRIC_KEYS = tuple(f"{key}_{side}" for side in SIDES for key in REGION_METRICS)
CSV_COLUMNS = ("label", "source", "revision", "engine", "tokens", "total_tokens", "area_share") + METRIC_KEYS


@dataclass(frozen=True)
class RegionReport:
    """The numbers of one full result on one region."""

    source: str
    revision: int
    engine: str
    tokens: int  # tokens whose centre lies in the region
    total_tokens: int
    area_share: float  # fraction of the image's pixels in the region
    metrics: dict = field(default_factory=dict)  # region_quality keys; None where a side is empty

    def flat(self, label: str) -> dict:
        """One CSV/JSON row."""
        row = {"label": label, **{k: v for k, v in asdict(self).items() if k != "metrics"}}
        row.update({key: self.metrics.get(key) for key in METRIC_KEYS})
        return row


class RegionEvents(SignalGroup):
    changed = Signal(object)  # the RegionAnalytics after its reports were recomputed
    pins = Signal(dict)  # name -> RegionReport


class RegionAnalytics:
    """Follows one document's full results, its selection and painted density."""

    def __init__(self, doc: Document, source: str = "image") -> None:
        self.doc = doc
        self.source = _checked(source)
        self.after: RegionReport | None = None
        self.before: RegionReport | None = None
        self.pins: dict[str, RegionReport] = {}
        self._results: tuple[Result | None, Result | None] = (None, None)  # (before, after)
        self._cache: dict[tuple, RegionReport] = {}  # the reports of the shown results on the current region
        self.events = RegionEvents()
        doc.events.result.connect(self._on_result)
        doc.events.image.connect(self._on_image)
        doc.layout.selection_changed.connect(self._on_selection)
        doc.bias.changed.connect(self._on_bias)
        if _complete(doc.result):
            self._results = (None, doc.result)
        self.refresh()

    def close(self) -> None:
        self.doc.events.result.disconnect(self._on_result)
        self.doc.events.image.disconnect(self._on_image)
        self.doc.layout.selection_changed.disconnect(self._on_selection)
        self.doc.bias.changed.disconnect(self._on_bias)

    # --- region ---------------------------------------------------------------------------------

    def set_source(self, source: str) -> None:
        self.source = _checked(source)
        self.refresh()

    def mask(self) -> np.ndarray | None:
        """bool ``[H, W]`` of the current source, or None when it is empty (nothing selected or painted)."""
        doc = self.doc
        h, w = doc.image_size
        if self.source == "image":
            return np.ones((h, w), bool)
        if self.source == "painted":
            m = doc.bias.mask()
            return m if m.any() else None
        rows = doc.layout.selection()
        if not rows.size:
            return None
        m = np.zeros((h, w), bool)
        for x0, y0, x1, y1 in doc.layout.regions()[rows]:  # inclusive plane pixels; padding is cut off
            m[max(y0, 0):min(y1 + 1, h), max(x0, 0):min(x1 + 1, w)] = True
        return m if m.any() else None

    # --- reports --------------------------------------------------------------------------------

    def report(self, result: Result, mask: np.ndarray) -> RegionReport:
        """The numbers of ``result`` on ``mask`` (its tokens are those of the layout it was computed from)."""
        from gpstoken_studio.engines.base import to_uint8

        inside = centres_in_mask(self.doc.plane.centers(result.g_init), mask)
        return RegionReport(
            source=self.source, revision=result.revision, engine=result.engine, tokens=int(inside.sum()),
            total_tokens=len(result.g_init), area_share=float(mask.mean()),
            metrics=region_quality(self.doc.image, to_uint8(result.reconstruction), mask),
        )

    def refresh(self) -> None:
        """Recompute both reports for the current region and results; emits ``changed``."""
        mask = self.mask()
        region = None if mask is None else (self.source, hash(np.packbits(mask).tobytes()))
        cache, self._cache = self._cache, {}
        for name, result in zip(("before", "after"), self._results):
            report = None
            if result is not None and mask is not None:  # a result that moved from after to before is not redone
                key = (id(result), region)
                report = cache.get(key) or self.report(result, mask)
                self._cache[key] = report
            setattr(self, name, report)
        self.events.changed.emit(self)

    def pin(self, name: str) -> RegionReport | None:
        """Keep the current report under ``name`` (A, B, ...) to compare later; None when there is none."""
        if self.after is None:
            return None
        self.pins = {**self.pins, name: self.after}
        self.events.pins.emit(dict(self.pins))
        return self.after

    def rows(self) -> list[dict]:
        """after, before and every pin as flat rows (the export's content)."""
        named = [("after", self.after), ("before", self.before)] + [(f"pin {k}", v) for k, v in self.pins.items()]
        return [report.flat(label) for label, report in named if report is not None]

    def export(self, path: str | Path) -> Path:
        """Write ``rows()`` to a ``.csv`` or ``.json`` file, atomically."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise GPSTokenError(f"cannot write {p.name}: region analytics export as .csv or .json")
        rows = self.rows()
        if not rows:
            raise GPSTokenError("no region analytics yet: wait for a full reconstruction (and select or paint)")
        with atomic_path(p) as tmp:
            if suffix == ".json":
                clean = [{k: _json_value(v) for k, v in row.items()} for row in rows]
                tmp.write_text(json.dumps(clean, indent=1) + "\n")
            else:
                with open(tmp, "w", newline="") as fh:
                    writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
                    writer.writeheader()
                    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return p

    # --- document events ------------------------------------------------------------------------

    def _on_result(self, result: Result | None) -> None:
        if _complete(result) and result is not self._results[1]:
            self._results = (self._results[1], result)
            self.refresh()

    def _on_image(self, _image) -> None:
        self._results = (None, None)  # another image: old reconstructions compare to nothing now
        self.refresh()

    def _on_selection(self, _rows) -> None:
        if self.source == "selection":
            self.refresh()

    def _on_bias(self, change) -> None:
        if self.source == "painted" and change.final:
            self.refresh()


def _complete(result: Result | None) -> bool:
    return result is not None and result.path == "full" and not result.partial


def _checked(source: str) -> str:
    if source not in SOURCES:
        raise GPSTokenError(f"region source must be one of {SOURCES}, got {source!r}")
    return source


def _json_value(v):
    """JSON has no inf: a perfect PSNR is written as null (like the command line's JSON)."""
    return None if isinstance(v, float) and not math.isfinite(v) else v
