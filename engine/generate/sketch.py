"""Sketch-aware layouts: a user's Gaussians (any number) -> a valid one-tile layout that keeps them.

Each sketched Gaussian stands for the box its official ``g_init`` is made of: centre +- 1.5 sigma
(the official sigma is a third of the region side, so this is the paper's 3-sigma box, sigma = w/6).
Policy, in this order:

1. Kept tokens. Every region the halving can make (squares split either way) is a candidate; a
   Gaussian keeps the candidate of highest box IoU (>= ``MIN_IOU``) that overlaps no region kept
   before it. Locked Gaussians go first (one that cannot be kept is an error), then the others from
   the smallest box up, so eyes inside a head survive and the head shapes the rest (step 2). When the
   kept regions need more than ``tokens`` regions, unlocked ones are dropped from the largest down.
2. The rest. With a layout model: stage-1 inpainting, i.e. the model samples ``g_init`` with the
   kept tokens held on their noising path (the keep-mask mechanism of texture inpainting), and the
   sample is calibrated (Algorithm 2) around the kept regions. Without one: the halving of a density
   map drawn from the sketch (every sketched outline dense, interiors and empty space sparse), split
   by the density's box sums like the partition's bias map.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..bias import bias_integral, box_sums
from ..calibrate import Box, calibrate, halve, max_regions_keeping, min_regions_keeping
from ..config_fields import with_overrides
from ..errors import GPSTokenError
from ..partition import Partition
from ..tokens import MX, MY, RHO, SX, SY, check_gaussians, g_init_from_regions
from .generator import Generator
from .layout import canonical_order, sample_layouts, tile_partition
from .options import LAYOUT_SAMPLING, SamplerOptions
from .samplers import CancelFn

MIN_IOU = 0.5
BOX_SIGMAS = 1.5  # a g_init's region is its centre +- 1.5 sigma
EDGE_WIDTH = 3.0  # pixels: the width (one sigma) of a sketched outline in the density map
DENSITY_FLOOR = 0.01  # density of interiors and empty space, relative to an outline's peak

OUTLINE_MEAN = 0.2  # a density-layout region with this mean density lies on a sketched outline

KEPT, NO_REGION, OVERLAP, NO_ROOM = "kept", "no region", "overlap", "no room"


@dataclass(frozen=True, eq=False)
class SketchLayout:
    """The layout of a sketch and what became of each sketched Gaussian."""

    layout: Partition  # one tile, ``tokens`` regions
    kept: np.ndarray  # int64 [K]: the region row that keeps sketched Gaussian k, -1 if none
    iou: np.ndarray  # float64 [K]: box IoU of that region with the sketched box (NaN if not kept)
    why: tuple[str, ...]  # per Gaussian: KEPT, NO_REGION (the halving has no close box), OVERLAP, NO_ROOM
    fill: str  # how the rest was made: "none" (the sketch filled the layout), "model" or "density"

    def summary(self) -> str:
        """One line: how many Gaussians became tokens, and why the others did not."""
        n = int((self.kept >= 0).sum())
        line = f"kept {n} of {len(self.why)} sketched Gaussians as tokens"
        if n:
            line += f" (box IoU >= {float(np.nanmin(self.iou)):.2f})"
        reasons = {NO_REGION: "have no region close to their box", OVERLAP: "overlap a kept smaller one",
                   NO_ROOM: "did not fit the token count"}
        others = [f"{self.why.count(r)} {says}" for r, says in reasons.items() if self.why.count(r)]
        fill = {"model": "the layout model", "density": "the sketch's outline density"}.get(self.fill)
        return line + ("; " + ", ".join(others) if others else "") + (f"; the rest from {fill}" if fill else "")


def sketch_layout(sketch: np.ndarray, tokens: int, tile: int = 256, min_size: int = 8, *,
                  locked: np.ndarray | None = None, layout_model: Generator | None = None, label: int = 0,
                  generator: torch.Generator | None = None, sampling: SamplerOptions | None = None,
                  cancel: CancelFn | None = None, **overrides) -> SketchLayout:
    """The layout of ``tokens`` regions that keeps the sketched Gaussians ``[K, >=5]`` (see module doc).

    ``locked`` (bool [K]) must be kept. ``layout_model`` (same token count) fills the rest, class
    ``label``, sampled with ``sampling`` (default :data:`LAYOUT_SAMPLING`; its fields also as keywords),
    else the sketch's density does. A sketch that is a whole partition stays as it is, with its own token count.
    """
    sampling = with_overrides(sampling or LAYOUT_SAMPLING, SamplerOptions, overrides, "sketch_layout")
    g = _check_sketch(sketch)
    lock = np.zeros(len(g), bool) if locked is None else np.asarray(locked, bool).reshape(-1)
    if len(lock) != len(g):
        raise GPSTokenError(f"need one lock flag per sketched Gaussian ({len(g)}), got {len(lock)}")
    size = (tile, tile)
    candidates = tree_regions(size, min_size)
    boxes = sketch_boxes(g, size)
    choice, why = choose_kept(boxes, lock, candidates, tokens, size, min_size)
    keep = candidates[choice[choice >= 0]]
    fill = "none"
    covered = int(((keep[:, 2] - keep[:, 0] + 1) * (keep[:, 3] - keep[:, 1] + 1)).sum())
    if len(keep) == tokens or (covered == tile * tile and (choice >= 0).all()):  # nothing left to fill
        regions = keep[np.lexsort((keep[:, 0], keep[:, 1]))]
    else:
        density = sketch_density(g, size)
        regions = density_layout(density, tokens, min_size, keep)
        fill = "density"
        if layout_model is not None and layout_model.config.tokens == tokens:
            hold = np.concatenate([keep, outline_regions(regions, density)])
            hold = np.unique(hold, axis=0)
            regions = inpaint_layout(layout_model, regions, hold, label, sampling, generator=generator, cancel=cancel)
            fill = "model"
    row = {tuple(r): i for i, r in enumerate(regions.tolist())}
    kept = np.array([row[tuple(candidates[c])] if c >= 0 else -1 for c in choice.tolist()], np.int64)
    iou = np.full(len(g), np.nan)
    has = kept >= 0
    iou[has] = box_iou(boxes[has], regions[kept[has]]).diagonal()
    layout = tile_partition(regions, g_init_from_regions(regions, size), tile)
    return SketchLayout(layout, kept, iou, tuple(why), fill)


def _check_sketch(sketch: np.ndarray) -> np.ndarray:
    try:
        g = np.asarray(sketch, np.float64)
    except (TypeError, ValueError):
        raise GPSTokenError("a sketch must be a numeric array of Gaussians [K, 5]") from None
    if g.ndim == 3 and g.shape[0] == 1:
        g = g[0]
    if g.ndim != 2 or g.shape[-1] < 5:
        raise GPSTokenError(f"a sketch must be Gaussians [K, 5] of one tile, got shape {list(g.shape)}")
    if not len(g):
        raise GPSTokenError("the sketch has no Gaussians: draw some (Add tool) or sample a layout")
    check_gaussians(g, "sketch")
    return g[:, :5]


@lru_cache(maxsize=8)
def tree_regions(size: tuple[int, int], min_size: int = 8) -> np.ndarray:
    """Every region ``int64 [M, 4]`` (x0, y0, x1, y1 inclusive) that halving a ``size`` tile can make,
    squares split either way."""
    h, w = size
    seen, stack = set(), [(0, w, 0, h)]
    while stack:
        box = stack.pop()
        if box in seen:
            continue
        seen.add(box)
        x0, x1, y0, y1 = box
        bw, bh = x1 - x0, y1 - y0
        if max(bw, bh) < 2 * min_size:
            continue
        if bw >= bh:
            stack += [(x0, x0 + bw // 2, y0, y1), (x0 + bw // 2, x1, y0, y1)]
        if bh >= bw:
            stack += [(x0, x1, y0, y0 + bh // 2), (x0, x1, y0 + bh // 2, y1)]
    b = np.array(sorted(seen), np.int64)
    out = np.stack([b[:, 0], b[:, 2], b[:, 1] - 1, b[:, 3] - 1], axis=1)
    out.setflags(write=False)
    return out


def sketch_boxes(g: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The box ``float64 [K, 4]`` (x0, y0, x1, y1 in pixel centres) each Gaussian's g_init stands for."""
    g = np.asarray(g, np.float64)
    h, w = size
    cx, cy = (g[:, MX] + 1) * (w - 1) / 2, (g[:, MY] + 1) * (h - 1) / 2
    hx, hy = BOX_SIGMAS * g[:, SX] * (w - 1) / 2, BOX_SIGMAS * g[:, SY] * (h - 1) / 2
    return np.stack([cx - hx, cy - hy, cx + hx, cy + hy], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU ``[K, M]`` of boxes ``a [K, 4]`` and ``b [M, 4]`` (x0, y0, x1, y1, extents x1 - x0)."""
    a, b = np.asarray(a, np.float64)[:, None], np.asarray(b, np.float64)[None]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def choose_kept(boxes: np.ndarray, locked: np.ndarray, candidates: np.ndarray, tokens: int,
                size: tuple[int, int], min_size: int) -> tuple[np.ndarray, list[str]]:
    """Per sketched box, the candidate row that keeps it (-1: none) and why (see module doc, step 1)."""
    iou = box_iou(boxes, candidates)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.concatenate([np.flatnonzero(locked), np.flatnonzero(~locked)[np.argsort(area[~locked], kind="stable")]])
    choice = np.full(len(boxes), -1, np.int64)
    why = [NO_REGION] * len(boxes)
    taken = np.zeros((0, 4), np.int64)
    for k in order.tolist():
        good = np.flatnonzero(iou[k] >= MIN_IOU)
        good = good[np.argsort(-iou[k, good], kind="stable")]
        free = [c for c in good.tolist() if not _overlaps(candidates[c], taken)]
        if free:
            choice[k], why[k] = free[0], KEPT
            taken = np.vstack([taken, candidates[free[0]]])
        elif len(good):
            why[k] = OVERLAP
        if locked[k] and choice[k] < 0:
            raise GPSTokenError(f"locked Gaussian {k} cannot be kept: it "
                                + ("overlaps another kept one" if len(good) else
                                   f"has no region of the halving with box IoU >= {MIN_IOU}"))
    kept = [k for k in order.tolist() if choice[k] >= 0]
    n_locked = int(locked.sum())
    held = candidates[choice[kept]]
    area = int(((held[:, 2] - held[:, 0] + 1) * (held[:, 3] - held[:, 1] + 1)).sum())
    if len(kept) == len(boxes) and area == size[0] * size[1]:
        return choice, why  # a whole partition (disjoint boxes covering the tile) keeps its own token count

    def fits(count: int) -> bool:  # the halving can make exactly ``tokens`` regions around the first ``count``
        boxes = candidates[choice[kept[:count]]]
        return min_regions_keeping(size, boxes, min_size) <= tokens <= max_regions_keeping(size, boxes, min_size)

    if not fits(len(kept)):
        if not fits(n_locked):
            raise GPSTokenError(f"the locked Gaussians leave no layout of the generator's {tokens} tokens")
        lo, hi = n_locked, len(kept)  # the longest prefix that fits: lo fits, hi does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        for k in kept[lo:]:
            choice[k], why[k] = -1, NO_ROOM
    return choice, why


def _overlaps(box: np.ndarray, taken: np.ndarray) -> bool:
    return bool(((taken[:, 0] <= box[2]) & (box[0] <= taken[:, 2])
                 & (taken[:, 1] <= box[3]) & (box[1] <= taken[:, 3])).any())


def sketch_density(g: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Layout density ``float32 [H, W]`` of sketched Gaussians: peaks on each 1.5-sigma outline, the
    interiors and empty space at DENSITY_FLOOR."""
    g = np.asarray(g, np.float64)
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    density = np.zeros((h, w))
    for sx, sy, rho, mx, my in g[:, [SX, SY, RHO, MX, MY]]:
        ax, ay = sx * (w - 1) / 2, sy * (h - 1) / 2
        dx, dy = (xs - (mx + 1) * (w - 1) / 2) / max(ax, 1e-6), (ys - (my + 1) * (h - 1) / 2) / max(ay, 1e-6)
        r = np.sqrt(np.maximum(dx * dx - 2 * rho * dx * dy + dy * dy, 0) / (1 - rho * rho)) / BOX_SIGMAS
        radius = BOX_SIGMAS * np.sqrt(ax * ay)  # pixels: turns the relative distance into an outline width
        np.maximum(density, np.exp(-0.5 * ((r - 1) * radius / EDGE_WIDTH) ** 2), out=density)
    return np.maximum(density, DENSITY_FLOOR).astype(np.float32)


def density_layout(density: np.ndarray, tokens: int, min_size: int = 8, keep: np.ndarray | None = None) -> np.ndarray:
    """Regions ``int64 [tokens, 4]`` of the halving by a density map ``[H, W]`` (the densest box first;
    squares as the partition splits them), holding the ``keep`` regions."""
    h, w = density.shape
    integral = bias_integral(density, (h, w), (h, w))

    def mass(*boxes: Box) -> list[float]:
        yxhw = np.array([(y0, x0, y1 - y0, x1 - x0) for x0, x1, y0, y1 in boxes], np.int64)
        return box_sums(integral, yxhw, (0, 0)).tolist()

    def along_x(box: Box) -> bool:  # the partition's square rule (strict)
        x0, x1, y0, y1 = box
        xm, ym = x0 + (x1 - x0) // 2, y0 + (y1 - y0) // 2
        left, right, top, bottom = mass((x0, xm, y0, y1), (xm, x1, y0, y1), (x0, x1, y0, ym), (x0, x1, ym, y1))
        return min(left, right) < min(top, bottom)

    return halve((h, w), tokens, min_size, lambda box: mass(box)[0], along_x, keep)


def outline_regions(regions: np.ndarray, density: np.ndarray) -> np.ndarray:
    """The regions ``[M, 4]`` of a density layout that lie on sketched outlines (mean density >= OUTLINE_MEAN)."""
    integral = bias_integral(density, density.shape, density.shape)
    x0, y0, x1, y1 = (regions[:, i] for i in range(4))
    h, w = y1 - y0 + 1, x1 - x0 + 1
    total = box_sums(integral, np.stack([y0, x0, h, w], axis=1), (0, 0))
    return regions[total / (h * w) >= OUTLINE_MEAN]


def inpaint_layout(model: Generator, start: np.ndarray, keep: np.ndarray, label: int = 0,
                   sampling: SamplerOptions = LAYOUT_SAMPLING, *, generator: torch.Generator | None = None,
                   cancel: CancelFn | None = None) -> np.ndarray:
    """Stage-1 inpainting: the layout model samples ``g_init`` with the ``keep`` regions' tokens held
    (in the token slots they take in ``start``, a full layout holding them), calibrated around them."""
    cfg = model.config
    size = (cfg.tile, cfg.tile)
    g0 = g_init_from_regions(start, size)
    order = canonical_order(g0)
    kept = {tuple(r) for r in np.asarray(keep).tolist()}
    mask = np.array([tuple(r) in kept for r in start[order].tolist()])
    if cfg.num_classes == 1:
        label, sampling = 0, dataclasses.replace(sampling, cfg_scale=1.0)  # an unconditional model serves every class
    raw, _ = sample_layouts(model, label, 1, sampling, generator=generator, cancel=cancel,
                            keep=(g0[order][None], mask[None]))
    return calibrate(raw[0], tokens=cfg.tokens, size=size, min_size=cfg.min_size, keep=keep).regions
