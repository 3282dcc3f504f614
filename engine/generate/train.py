"""Training of the layout and texture generators (SiT velocity matching on the linear path).

A run folder holds ``config.json`` (GenTrainConfig, with the model's data statistics), ``data.npz``
(the prepared examples, so a resume does not re-partition or re-read anything), ``metrics.jsonl``
(``{"step", "loss", "lr", "ex_per_s", "time"}`` every ``log_every`` steps), ``events.jsonl``,
``checkpoints/latest.pt`` (model, EMA, optimiser, RNG; the tokenizer trainer's format) and
``model.safetensors`` (EMA weights, loadable with :func:`load_generator`) and ``samples/step_*.png``
every ``sample_every`` steps. SIGINT/SIGTERM finish the step, save and return; ``resume`` continues at
the last checkpoint (a larger ``steps`` extends). Under ``torchrun`` each rank trains its slots of the
global batch (``batch`` per process) through DistributedDataParallel; rank 0 writes.

Layout examples: ``g_init`` of entropy partitions of random augmented crops of the images (canonical
order). Texture examples: the token files of ``gpstoken extract``; the layout condition gets
Gaussian noise of std ``cond_noise`` (0.5, as the paper) during training only.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..config_fields import check_fields, dataclass_from_dict
from ..errors import GPSTokenError
from ..io.arrays import load_npz
from ..io.atomic import atomic_path
from ..train.distributed import Dist, pick_device
from ..train.ema import EMA
from ..train.state import (LATEST, StopFlag, load_checkpoint, read_run_json, rng_state, save_checkpoint,
                           set_rng_state, trim_metrics)
from .checkpoint import save_generator
from .config import GeneratorConfig, preset
from .generator import Generator
from .latent import to_data
from .transport import velocity_loss

CONFIG_FILE, DATA_FILE, METRICS_FILE, EVENTS_FILE, MODEL_FILE = (
    "config.json", "data.npz", "metrics.jsonl", "events.jsonl", "model.safetensors")
BOUNDS = {"betas": (0, 0.999999), "ema_beta": (0, 1), "ema_update_after": (0, 2**62), "seed": (0, 2**63 - 1),
          "log_every": (1, 2**62), "ckpt_every": (1, 2**62)}


@dataclass(frozen=True)
class GenTrainConfig:
    """Generator training settings; ``model`` is a GeneratorConfig dict (statistics filled from the data)."""

    model: dict[str, Any] = field(default_factory=lambda: preset("layout-tiny").to_dict())
    data: str = ""
    steps: int = 2000
    batch: int = 32
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    examples: int = 2000  # layout: augmented crops to partition
    min_crop: float = 0.5  # layout: smallest random crop, as a fraction of the shorter side
    init: str = ""  # start from this generator file's weights (same shape; fine-tuning)
    ema_beta: float = 0.999
    ema_update_after: int = 100
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200
    sample_every: int = 500
    sample_count: int = 4

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        check_fields(self, "generator training config", GPSTokenError, BOUNDS)
        if min(self.steps, self.batch, self.examples, self.sample_every, self.sample_count) < 1 or self.lr <= 0:
            raise GPSTokenError("steps, batch, examples, sample_every, sample_count must be >= 1 and lr > 0")
        if not 0 < self.min_crop <= 1:
            raise GPSTokenError(f"generator training config: min_crop must be in (0, 1], got {self.min_crop}")
        if self.ema_beta >= 1:
            raise GPSTokenError(f"generator training config: ema_beta must be < 1, got {self.ema_beta}")

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: Path) -> "GenTrainConfig":
        """The config saved in a run folder's config.json (``source``); another kind of run is one line."""
        if not isinstance(d, dict):
            raise GPSTokenError(f"{source}: not a generator training config")
        model = d.get("model")
        if isinstance(model, dict) and "kind" not in model:
            raise GPSTokenError(f"{source.parent} holds a tokenizer training run, not a generator run: "
                                "resume it with gpstoken train tokenizer")
        return dataclass_from_dict(cls, d, f"{source}", GPSTokenError)

    @property
    def model_config(self) -> GeneratorConfig:
        return GeneratorConfig.from_dict(self.model)

    def replace(self, **changes: Any) -> "GenTrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


def channel_statistics(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of ``x [..., C]``; constant channels get std 1 (e.g. rho of g_init)."""
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    std = flat.std(axis=0)
    return flat.mean(axis=0).tolist(), np.where(std > 1e-6, std, 1.0).tolist()


def prepare_data(cfg: GenTrainConfig) -> tuple[GeneratorConfig, dict[str, np.ndarray]]:
    """The examples of a new run and the model config with their statistics."""
    from .data import layout_examples, token_examples

    mcfg = cfg.model_config
    if mcfg.kind == "layout":
        g, labels, names = layout_examples(cfg.data, mcfg.tokens, count=cfg.examples, size=mcfg.tile, min_size=mcfg.min_size,
                                           seed=cfg.seed, min_crop=cfg.min_crop)
        arrays = {"g_init": g, "labels": labels}
        means, stds = channel_statistics(g)
    else:
        tokens, g, labels, names = token_examples(cfg.data)
        mcfg = mcfg.replace(in_channels=int(tokens.shape[-1]))  # the tokenizer decides the channels
        arrays = {"tokens": tokens, "g_init": g, "labels": labels}
        residual = np.concatenate([tokens[..., :5] - g, tokens[..., 5:]], axis=-1)
        means, stds = channel_statistics(residual)
    if int(labels.max()) >= mcfg.num_classes:
        raise GPSTokenError(f"the data has {len(names)} classes; the model config allows {mcfg.num_classes} "
                            f"(set num_classes)")
    return mcfg.replace(means=tuple(means), stds=tuple(stds), tokens=int(g.shape[1])), arrays


def _load_examples(path: Path, kind: str) -> dict[str, np.ndarray]:
    """The prepared examples of a run folder (``data.npz``), checked for the arrays its kind trains on."""
    arrays = load_npz(path)
    for key in ("g_init", "labels") + (("tokens",) if kind == "texture" else ()):
        if key not in arrays:
            raise GPSTokenError(f"{path}: missing array {key!r}")
        if arrays[key].dtype.kind == "f" and not np.isfinite(arrays[key]).all():
            raise GPSTokenError(f"{path}: array {key!r} holds NaN or infinite values")
    return arrays


class GeneratorTrainer:
    """One layout or texture training run (new or resumed) in ``out``."""

    def __init__(self, out: str | Path, config: GenTrainConfig | None = None, resume: bool = False,
                 steps: int | None = None, on_event: Callable[[dict], None] | None = None,
                 device: str | torch.device | None = None, kind: str | None = None) -> None:
        self.out = Path(out)
        self.device = pick_device(str(device) if device else None)
        self.dist = Dist(self.device)
        self.on_event = on_event
        self.stop = StopFlag()
        cfg_path = self.out / CONFIG_FILE
        if resume:
            if not cfg_path.is_file():
                raise GPSTokenError(f"nothing to resume: {self.out} holds no {CONFIG_FILE}")
            self.cfg = GenTrainConfig.from_dict(read_run_json(cfg_path), cfg_path)
            if kind is not None and self.cfg.model_config.kind != kind:
                raise GPSTokenError(f"{self.out} holds a {self.cfg.model_config.kind} generator run, not a {kind} run")
            self.arrays = _load_examples(self.out / DATA_FILE, self.cfg.model_config.kind)
        else:
            if cfg_path.exists():
                raise GPSTokenError(f"{self.out} already holds a run: pass --resume or choose another --out")
            if config is None or not config.data:
                raise GPSTokenError("a new run needs a config and --data")
            self.dist.barrier()  # every rank has checked the folder before rank 0 fills it
            if self.dist.main:
                mcfg, self.arrays = prepare_data(config)
                self.cfg = config.replace(model=mcfg.to_dict())
                self._write_run_files()
            self.dist.barrier()
            if not self.dist.main:  # the other ranks train on rank 0's examples
                self.cfg = GenTrainConfig.from_dict(read_run_json(cfg_path), cfg_path)
                self.arrays = _load_examples(self.out / DATA_FILE, self.cfg.model_config.kind)
        if steps:
            self.cfg = self.cfg.replace(steps=steps)
        self.mcfg = self.cfg.model_config
        latest = self.out / "checkpoints" / LATEST
        self.start = int(load_checkpoint(latest)["step"]) if resume and latest.exists() else 0

    def _write_run_files(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.out / DATA_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.arrays)
        with atomic_path(self.out / CONFIG_FILE) as tmp:
            tmp.write_text(json.dumps(self.cfg.to_dict(), indent=1))

    def _event(self, event: str, **fields: Any) -> None:
        if not self.dist.main:
            return
        row = {"time": round(time.time(), 3), "event": event, **fields}
        with open(self.out / EVENTS_FILE, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.on_event:
            self.on_event(row)

    def _setup(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(self.cfg.seed)
        self.model = Generator(self.mcfg).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr, betas=self.cfg.betas)
        self.ema = EMA(self.model, self.cfg.ema_beta, 1, self.cfg.ema_update_after, 2 / 3)
        g = torch.from_numpy(self.arrays["g_init"]).float().to(self.device)
        if self.mcfg.kind == "layout":
            self.x1, self.cond = to_data(self.mcfg, g), None
        else:
            tokens = torch.from_numpy(self.arrays["tokens"]).float().to(self.device)
            self.x1, self.cond = to_data(self.mcfg, tokens, g), g
        self.labels = torch.from_numpy(self.arrays["labels"]).long().to(self.device)
        if self.cfg.init and not self.start:
            from .checkpoint import load_generator

            self.model.load_state_dict(load_generator(self.cfg.init, self.mcfg, self.device).state_dict())
            self.ema = EMA(self.model, self.cfg.ema_beta, 1, self.cfg.ema_update_after, 2 / 3)
        if self.start:
            state = load_checkpoint(self.out / "checkpoints" / LATEST)  # tensors on the CPU
            self.model.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
            self.opt.load_state_dict(state["opt"])
            set_rng_state(state["rng"])
        if self.dist.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # find_unused: class/condition embeddings a model kind does not use stay out of the graph
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids,
                                                                 find_unused_parameters=True)
        else:
            self.ddp = self.model

    def _step(self) -> float:
        cfg, mcfg = self.cfg, self.mcfg
        # every rank draws the same global batch (same seed and steps) and trains its own slots of it
        total, mine = cfg.batch * self.dist.world, slice(self.dist.rank, None, self.dist.world)
        idx = torch.randint(0, self.x1.shape[0], (total,))[mine].to(self.device)
        y = self.labels[idx]
        drop = (torch.rand(total)[mine] < mcfg.class_dropout).to(self.device)
        y = torch.where(drop, torch.full_like(y, mcfg.null_class), y)
        cond = None
        if self.cond is not None:
            cond = self.cond[idx] + mcfg.cond_noise * torch.randn(self.cond[idx].shape).to(self.device)
        self.ddp.train()
        loss = velocity_loss(lambda xt, t: self.ddp(xt, t, y, cond), self.x1[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update(self.model)
        return loss.item()

    def _ema_model(self) -> Generator:
        model = Generator(self.mcfg)
        model.load_state_dict(self.ema.shadow)
        return model.eval()

    def _save(self, step: int) -> None:
        if not self.dist.main:
            return
        state = {"step": step, "model": self.model.state_dict(), "ema": self.ema.state_dict(),
                 "opt": self.opt.state_dict(), "rng": rng_state(), "config": self.cfg.to_dict()}
        save_checkpoint(state, self.out / "checkpoints" / LATEST)
        save_generator(self._ema_model(), self.out / MODEL_FILE, {"gpstoken.train.step": str(step)})
        self._event("checkpoint", step=step)

    def _write_samples(self, step: int) -> None:
        """Rank 0: a PNG of ``sample_count`` EMA samples (layouts calibrated; textures' first channels as colours)."""
        if not self.dist.main:
            return
        from ..io.images import save_image
        from .samples import sample_strip

        with torch.random.fork_rng():
            torch.manual_seed(self.cfg.seed)
            picture = sample_strip(self._ema_model(), self.arrays, self.cfg.sample_count)
        save_image(self.out / "samples" / f"step_{step:08d}.png", picture)

    def run(self) -> dict[str, Any]:
        """Train to ``steps`` or a stop request; returns ``{"step", "status", "loss"}``."""
        try:
            return self._run()
        finally:
            self.dist.close()

    def _run(self) -> dict[str, Any]:
        self._setup()
        if self.dist.main:
            trim_metrics(self.out / METRICS_FILE, self.start)
        cfg = self.cfg
        self._event("started", step=self.start, steps=cfg.steps, kind=self.mcfg.kind, examples=int(self.x1.shape[0]),
                    device=str(self.device), world=self.dist.world)
        step, status, losses, tick = self.start, "finished", [], time.perf_counter()
        with self.stop:
            while step < cfg.steps:
                losses.append(self._step())
                step += 1
                if step % cfg.log_every == 0 or step == cfg.steps:
                    rate = len(losses) * cfg.batch * self.dist.world / max(time.perf_counter() - tick, 1e-9)
                    row = {"step": step, "loss": round(float(np.mean(losses)), 6), "lr": cfg.lr,
                           "ex_per_s": round(rate, 2), "time": round(time.time(), 3)}
                    if self.dist.main:
                        with open(self.out / METRICS_FILE, "a") as fh:
                            fh.write(json.dumps(row) + "\n")
                    losses, tick = [], time.perf_counter()
                if step % cfg.sample_every == 0:
                    self._write_samples(step)
                if self.dist.any(self.stop.requested):
                    status = "stopped"
                    break
                if step % cfg.ckpt_every == 0 and step < cfg.steps:
                    self._save(step)
            self._save(step)
        self._event(status, step=step)
        return {"step": step, "status": status}
