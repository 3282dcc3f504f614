"""Layout sketching and texture generation for the editor, over ``gpstoken.generate`` (no Qt).

A ``Generators`` holds the texture generator (bundled or an official file with its YAML), the layout
generator and the tokenizer that decodes, each loaded on first use on the worker thread. Generation
works on one tile of the generators' size: the layout is calibrated to their token count first, and
candidates come back one by one with decoded previews while they are sampled.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from gpstoken.errors import GPSTokenError
from gpstoken.generate.layout_cache import cached_layout, is_layout_cache, load_layout_cache
from gpstoken_studio.engines.base import Cancel
from gpstoken_studio.model.layout import LOCK_GEOMETRY, LayoutState

PREVIEW_EVERY_S = 0.25  # decoding a preview costs about one tokenizer decode: throttle them


@dataclass(frozen=True)
class GenerationSettings:
    """Stage-2 sampling controls (``count`` candidates; candidate ``i`` uses seed ``seed + i``)."""

    label: int = 0
    sampler: str = "ode"
    steps: int = 50
    cfg_scale: float = 1.0
    seed: int = 0
    count: int = 1


@dataclass(frozen=True, eq=False)
class Candidate:
    """One generated image on a calibrated one-tile layout."""

    image: np.ndarray  # uint8 [H, W, 3]
    layout: LayoutState  # the calibrated layout it was generated for (generation order)
    tokens: np.ndarray  # float32 [N, 5+C], generation order
    settings: GenerationSettings
    seed: int

    @property
    def title(self) -> str:
        s = self.settings
        return f"seed {self.seed} · {s.sampler}" + ("" if s.sampler == "ode" else f" {s.steps}") + f" · cfg {s.cfg_scale:g}"


@dataclass(frozen=True)
class Preview:
    """An intermediate state of candidate ``index``: its decoded image after sampler step ``step``."""

    index: int
    step: int
    image: np.ndarray


def layout_from_partition(regions: np.ndarray, g_init: np.ndarray) -> LayoutState:
    """A one-tile partition (tile-local regions and g_init) as document layout rows."""
    return LayoutState.build(g_init, regions, np.zeros(len(regions)))


@dataclass(frozen=True, eq=False)
class SketchCalibration:
    """A sketch's calibrated layout (locks of the kept Gaussians carried) and what became of the sketch."""

    before: np.ndarray  # float32 [K, 5]: the sketched Gaussians
    layout: LayoutState
    kept_rows: np.ndarray  # int64: rows of ``layout`` that keep a sketched Gaussian
    summary: str


def is_calibrated(layout: LayoutState, tokens: int, tile: int, min_size: int) -> bool:
    """Whether the rows are already a valid layout of ``tokens`` regions (each row the g_init of its
    region, the regions a halving partition of the tile): then there is nothing to calibrate."""
    from gpstoken.generate.sketch import tree_regions
    from gpstoken.tokens import g_init_from_regions

    r = layout.regions.astype(np.int64)
    if len(r) != tokens or not np.allclose(layout.geometry, g_init_from_regions(r, (tile, tile)), atol=1e-6):
        return False
    tree = {tuple(b) for b in tree_regions((tile, tile), min_size).tolist()}
    area = int(((r[:, 2] - r[:, 0] + 1) * (r[:, 3] - r[:, 1] + 1)).sum())
    cover = np.zeros((tile, tile), bool)
    for x0, y0, x1, y1 in r:
        cover[y0:y1 + 1, x0:x1 + 1] = True
    return area == tile * tile and bool(cover.all()) and all(tuple(b) in tree for b in r.tolist())


class Generators:
    """The models generation needs, loaded lazily and thread-safely."""

    def __init__(self, texture: str | os.PathLike | None = None, texture_config: str | os.PathLike | None = None,
                 layout: str | os.PathLike | None = None, tokenizer: str | os.PathLike | None = None,
                 tokenizer_config: str | os.PathLike | None = None) -> None:
        from gpstoken.generate import read_generator_config
        from gpstoken.generate.bundled import bundled_generator
        from gpstoken.models.default_model import default_model_path

        self.texture_path = Path(texture) if texture else bundled_generator("texture")
        self.texture_config = texture_config
        self.layout_path = Path(layout) if layout else bundled_generator("layout")
        self.tokenizer_path = Path(tokenizer) if tokenizer else default_model_path()
        self.tokenizer_config = tokenizer_config if tokenizer else None
        # headers only: cheap enough for the GUI thread, and bad files fail here with one line
        self.config = read_generator_config(self.texture_path, texture_config)
        if self.config.kind != "texture":
            raise GPSTokenError(f"{self.texture_path.name} is a {self.config.kind} generator, not a texture one")
        if is_layout_cache(self.layout_path):  # the official release's stage 1: cached per-class layouts
            if not self.layout_path.is_file():
                raise GPSTokenError(f"no such layout cache: {self.layout_path}")
        elif read_generator_config(self.layout_path).kind != "layout":
            raise GPSTokenError(f"{self.layout_path.name} is a texture generator, not a layout one")
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def tokens(self) -> int:
        return self.config.tokens

    @property
    def tile(self) -> int:
        return self.config.tile

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def _get(self, key: str):
        """The ``texture``, ``layout`` or ``tokenizer`` model, loaded once."""
        from gpstoken.generate import load_generator
        from gpstoken.models import load_tokenizer

        with self._lock:
            if key not in self._models:
                if key == "texture":
                    self._models[key] = load_generator(self.texture_path, self.texture_config)
                elif key == "layout" and is_layout_cache(self.layout_path):
                    self._models[key] = load_layout_cache(self.layout_path, self.tokens)
                elif key == "layout":
                    self._models[key] = load_generator(self.layout_path)
                else:
                    self._models[key] = load_tokenizer(self.tokenizer_path, self.tokenizer_config)
            return self._models[key]

    # --- stage 1 and calibration ----------------------------------------------------------------

    @property
    def has_layout_model(self) -> bool:
        """A layout generator (not an official layout cache) is the stage-1 source."""
        return not is_layout_cache(self.layout_path)

    def calibrate_sketch(self, geometry: np.ndarray, locks: np.ndarray | None = None, fill: str = "model",
                         label: int = 0, seed: int = 0, cancel: Cancel | None = None) -> SketchCalibration:
        """Sketched Gaussians ``[K, 5]`` -> a layout of ``tokens`` regions that keeps them
        (``gpstoken.generate.sketch``): rows with a geometry lock must be kept and stay locked; the rest
        comes from the layout model (``fill="model"``, class ``label``, ``seed``) or the sketch's density."""
        import torch

        from gpstoken.generate.sketch import sketch_layout

        g = np.asarray(geometry, np.float32).reshape(-1, 5)
        bits = np.zeros(len(g), np.uint8) if locks is None else np.asarray(locks, np.uint8).reshape(-1)
        model = self._get("layout") if fill == "model" and self.has_layout_model else None
        made = sketch_layout(g, self.tokens, self.tile, self.config.min_size, locked=(bits & LOCK_GEOMETRY) != 0,
                             layout_model=model, label=label, generator=torch.Generator().manual_seed(int(seed)),
                             cancel=cancel)
        kept = made.kept >= 0
        out_locks = np.zeros(len(made.layout.regions), np.uint8)
        out_locks[made.kept[kept]] = bits[kept]
        layout = LayoutState.build(made.layout.g_init, made.layout.regions, np.zeros(len(out_locks)), out_locks)
        return SketchCalibration(g, layout, np.sort(made.kept[kept]), made.summary())

    def calibrate(self, geometry: np.ndarray) -> LayoutState:
        """Any Gaussians ``[K, 5]`` of one tile -> the calibrated layout of exactly ``tokens`` regions."""
        from gpstoken.generate import calibrated_layout

        g = np.asarray(geometry, np.float32).reshape(-1, 5)
        if not len(g):
            raise GPSTokenError("nothing to calibrate: draw some Gaussians or sample a layout first")
        p = calibrated_layout(g, self.tokens, self.tile, self.config.min_size)
        return layout_from_partition(p.regions, p.g_init)

    def sample_layout(self, label: int, seed: int, cancel: Cancel) -> tuple[np.ndarray, LayoutState]:
        """Stage 1: the layout model's raw Gaussians ``[N, 5]`` (or a layout cache's, drawn with ``seed``)
        and their calibrated layout."""
        import torch

        from gpstoken.generate import sample_layouts

        model = self._get("layout")
        if isinstance(model, dict):
            raw = cached_layout(model, label, np.random.default_rng(int(seed)))
            return raw, self.calibrate(raw)
        if model.config.num_classes == 1:
            label = 0  # an unconditional layout model serves every class
        raw, cal = sample_layouts(model, label, 1, generator=torch.Generator().manual_seed(int(seed)), cancel=cancel)
        if model.config.tokens != self.tokens:
            return raw[0], self.calibrate(raw[0])
        return raw[0], layout_from_partition(cal.regions[0], cal.g_init[0])

    # --- stage 2 ---------------------------------------------------------------------------------

    def generate(self, layout: LayoutState, settings: GenerationSettings, cancel: Cancel,
                 on_preview: Callable[[Preview], None], on_candidate: Callable[[Candidate], None],
                 progress: Callable[[float, str], None],
                 keep: tuple[np.ndarray, np.ndarray] | None = None) -> list[Candidate]:
        """``settings.count`` candidates for a calibrated one-tile ``layout`` of ``tokens`` rows.

        ``keep=(tokens [N, 5+C], mask [N])`` keeps those tokens exactly (regenerate the rest).
        Previews of the running candidate are decoded at most every PREVIEW_EVERY_S seconds.
        """
        from gpstoken.generate import check_compatible, generate
        from gpstoken.generate.layout import tile_partition
        from gpstoken.models.pipeline import decode_tokens, to_uint8

        if len(layout) != self.tokens:
            raise GPSTokenError(f"the texture generator needs a layout of {self.tokens} tokens, got {len(layout)}: "
                                "calibrate first")
        texture, tokenizer = self._get("texture"), self._get("tokenizer")
        check_compatible(texture, tokenizer)
        part = tile_partition(layout.regions, layout.geometry, self.tile)
        keep_arg = None
        if keep is not None:
            kept, mask = keep
            if kept.shape != (self.tokens, self.config.in_channels):
                raise GPSTokenError(f"kept tokens must be [{self.tokens}, {self.config.in_channels}] "
                                    f"(the texture generator's), got {list(kept.shape)}")
            keep_arg = (kept[None].astype(np.float32), np.asarray(mask, bool)[None])
        expected = None if settings.sampler == "ode" else settings.steps
        out = []
        for i in range(settings.count):
            last = {"t": time.perf_counter()}

            def step(_image: int, k: int, tokens, i=i, last=last) -> None:
                done = min(k / expected, 1.0) if expected else min(k / 40, 0.95)
                progress((i + done) / settings.count, f"candidate {i + 1}/{settings.count}: step {k}")
                if time.perf_counter() - last["t"] >= PREVIEW_EVERY_S:
                    recon = decode_tokens(tokenizer, tokens.cpu().numpy(), (1, 1), (self.tile, self.tile))
                    on_preview(Preview(i, k, to_uint8(recon)))
                    last["t"] = time.perf_counter()

            seed = settings.seed + i
            made = generate(texture, tokenizer, settings.label, 1, layouts=[part], method=settings.sampler,
                            steps=settings.steps, cfg_scale=settings.cfg_scale, seed=seed, keep=keep_arg,
                            callback=step, cancel=cancel)[0]
            candidate = Candidate(made.image(), layout, made.tokens[0].copy(), settings, seed)
            on_preview(Preview(i, -1, candidate.image))
            on_candidate(candidate)
            out.append(candidate)
        return out
