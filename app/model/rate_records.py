"""Rate-quality records: one per distinct setting (engine, checkpoint, tokens per tile and in total,
min-size, lambda, steps, painted bias, fresh or warm start), with CSV export and, per record, the
``gpstoken`` command that reproduces a fresh run of it. Imports no Qt.
"""
from __future__ import annotations

import csv
import math
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from psygnal import Signal, SignalGroup

from gpstoken.errors import GPSTokenError
from gpstoken.fit_init import auto_min_size
from gpstoken.io.atomic import atomic_path

from .result import Result
from .settings import Settings


def sweep_min_size(tile_hw: tuple[int, int], tokens_per_tile: int, min_size: int) -> int:
    """The minimum region side a sweep partitions ``tokens_per_tile`` with: the document's, or the command
    line's smaller automatic one where the count needs it (so counts above 1024 per 256-px tile fit)."""
    return min(min_size, auto_min_size(tile_hw, tokens_per_tile))


@dataclass(frozen=True)
class RateRecord:
    """One measured point of the rate-quality plane."""

    engine: str  # "fit" or "model"
    checkpoint: str  # the model file ("" for the fit engine)
    tokens_per_tile: int  # the count setting the partition used
    tokens: int  # tokens in the result, all tiles together
    tiles: int
    min_size: int
    lam: float
    steps: int  # fit steps (0 for the model engine)
    bias: bool  # a painted density shaped the partition
    warm: bool  # the fit started from the previous result's tokens (edit history), not from the partition
    psnr: float
    ssim: float
    haarpsi: float
    origin: str = "edit"  # "edit" (the document's own result) or "sweep"

    def key(self) -> tuple:
        return (self.engine, self.checkpoint, self.tokens_per_tile, self.tokens, self.min_size, self.lam,
                self.steps, self.bias, self.warm)

    def series(self) -> str:
        """The plot curve this record belongs to: every setting but the token count."""
        name = self.engine if not self.checkpoint else f"{self.engine}:{Path(self.checkpoint).stem}"
        parts = [name, f"min {self.min_size}", f"λ {self.lam:g}"]
        if self.engine == "fit":
            parts.append(f"{self.steps} steps {'warm' if self.warm else 'fresh'}")
        if self.bias:
            parts.append("bias")
        return " · ".join(parts)

    def command(self, image: str | Path, bias_file: str | Path = "BIAS.npy") -> str:
        """The ``gpstoken`` command that makes this record's number from a fresh start (a warm fit depends on
        the edit history; its command gives the fresh fit of the same settings)."""
        if self.engine == "fit":
            args = ["gpstoken", "fit", str(image), "--tokens", str(self.tokens_per_tile), "--steps", str(self.steps),
                    "--lam", f"{self.lam:g}", "--min-size", str(self.min_size)]
            if self.bias:
                args += ["--bias", str(bias_file)]
            args += ["--out", "recon.png", "--json", "-"]
        else:
            model = ["--model", self.checkpoint] if self.checkpoint else []  # none: the default model, as here
            args = ["gpstoken", "reconstruct", str(image), *model, "--tokens", str(self.tokens_per_tile),
                    "--out", "recon.png", "--json", "-"]
        return shlex.join(args)


def record_of(result: Result, settings: Settings, *, tiles: int, checkpoint: str | Path = "", bias: bool = False,
              min_size: int | None = None, tokens_per_tile: int | None = None, origin: str = "edit"
              ) -> RateRecord | None:
    """The record of a full result made with ``settings`` (None when it has no finite PSNR)."""
    m = result.metrics
    if not math.isfinite(m.get("psnr", math.nan)):
        return None
    fit = result.engine == "fit"
    return RateRecord(
        engine=result.engine, checkpoint="" if fit else str(checkpoint),
        tokens_per_tile=settings.tokens_per_tile if tokens_per_tile is None else tokens_per_tile,
        tokens=len(result.rows), tiles=tiles, min_size=settings.min_size if min_size is None else min_size,
        lam=settings.lam, steps=settings.fit_steps if fit else 0, bias=bias, warm=fit and result.warm_start,
        psnr=float(m["psnr"]), ssim=float(m.get("ssim", math.nan)), haarpsi=float(m.get("haarpsi", math.nan)),
        origin=origin,
    )


CSV_COLUMNS = tuple(f.name for f in fields(RateRecord)) + ("command",)


class RateBookEvents(SignalGroup):
    changed = Signal(object)  # the RecordBook after a record was added or the book cleared


class RateBook:
    """Records by key: a new measurement of the same settings replaces the old one, nothing else does."""

    def __init__(self) -> None:
        self._records: dict[tuple, RateRecord] = {}
        self.current: RateRecord | None = None  # the record of what the document shows
        self.events = RateBookEvents()

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[RateRecord]:
        """Sorted by series, then token count."""
        return sorted(self._records.values(), key=lambda r: (r.series(), r.tokens, r.origin))

    def series(self) -> dict[str, list[RateRecord]]:
        out: dict[str, list[RateRecord]] = {}
        for r in self.records():
            out.setdefault(r.series(), []).append(r)
        return out

    def add(self, record: RateRecord | None, current: bool = False) -> None:
        if record is None:
            return
        self._records[record.key()] = record
        if current:
            self.current = record
        self.events.changed.emit(self)

    def clear(self) -> None:
        self._records.clear()
        self.current = None
        self.events.changed.emit(self)

    def export_csv(self, path: str | Path, image: str | Path, bias_file: str | Path = "BIAS.npy") -> Path:
        """Every record with its reproducing command, atomically."""
        p = Path(path)
        if not self._records:
            raise GPSTokenError("no rate-quality records yet: reconstruct or sweep first")
        with atomic_path(p) as tmp, open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            for r in self.records():
                writer.writerow({**asdict(r), "command": r.command(image, bias_file)})
        return p
