"""Training of the layout and texture generators (SiT velocity matching on the linear path).

A run folder holds ``config.json`` (GenTrainConfig, with the model's data statistics), ``data.npz``
(the prepared examples, so a resume does not re-partition or re-read anything), ``metrics.jsonl``
(``{"step", "loss", "lr", "ex_per_s", "time"}`` every ``log_every`` steps), ``events.jsonl``,
``checkpoints/latest.pt`` (model, EMA, optimiser, RNG; the tokenizer trainer's format) and
``model.safetensors`` (EMA weights, loadable with :func:`load_generator`). SIGINT/SIGTERM finish the
step, save and return; ``resume`` continues at the last checkpoint (a larger ``steps`` extends).

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

from ..errors import GPSTokenError
from ..io.atomic import atomic_path
from ..train.ema import EMA
from ..train.state import LATEST, StopFlag, load_checkpoint, rng_state, save_checkpoint, set_rng_state, trim_metrics
from .checkpoint import save_generator
from .config import GeneratorConfig, preset
from .generator import Generator
from .latent import to_data
from .transport import velocity_loss

CONFIG_FILE, DATA_FILE, METRICS_FILE, EVENTS_FILE, MODEL_FILE = (
    "config.json", "data.npz", "metrics.jsonl", "events.jsonl", "model.safetensors")


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
    init: str = ""  # start from this generator file's weights (same shape; fine-tuning)
    ema_beta: float = 0.999
    ema_update_after: int = 100
    seed: int = 0
    log_every: int = 10
    ckpt_every: int = 200

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.steps < 1 or self.batch < 1 or self.lr <= 0 or self.examples < 1:
            raise GPSTokenError("steps, batch, examples must be >= 1 and lr > 0")

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
        g, labels, names = layout_examples(cfg.data, mcfg.tokens, cfg.examples, mcfg.tile, min_size=mcfg.min_size,
                                           seed=cfg.seed)
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


class GeneratorTrainer:
    """One layout or texture training run (new or resumed) in ``out``."""

    def __init__(self, out: str | Path, config: GenTrainConfig | None = None, resume: bool = False,
                 steps: int | None = None, on_event: Callable[[dict], None] | None = None,
                 device: str | torch.device | None = None) -> None:
        from ..settings import default_device

        self.out = Path(out)
        self.device = torch.device(device) if device else default_device()
        self.on_event = on_event
        self.stop = StopFlag()
        cfg_path = self.out / CONFIG_FILE
        if resume:
            if not cfg_path.is_file():
                raise GPSTokenError(f"nothing to resume: {self.out} holds no {CONFIG_FILE}")
            saved = json.loads(cfg_path.read_text())
            self.cfg = GenTrainConfig(**saved)
            with np.load(self.out / DATA_FILE) as z:
                self.arrays = {k: z[k] for k in z.files}
        else:
            if cfg_path.exists():
                raise GPSTokenError(f"{self.out} already holds a run: pass --resume or choose another --out")
            if config is None or not config.data:
                raise GPSTokenError("a new run needs a config and --data")
            mcfg, self.arrays = prepare_data(config)
            self.cfg = config.replace(model=mcfg.to_dict())
            self._write_run_files()
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
        row = {"time": round(time.time(), 3), "event": event, **fields}
        with open(self.out / EVENTS_FILE, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.on_event:
            self.on_event(row)

    def _setup(self) -> None:
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

    def _step(self) -> float:
        cfg, mcfg = self.cfg, self.mcfg
        idx = torch.randint(0, self.x1.shape[0], (cfg.batch,)).to(self.device)
        y = self.labels[idx]
        drop = torch.rand(cfg.batch).to(self.device) < mcfg.class_dropout
        y = torch.where(drop, torch.full_like(y, mcfg.null_class), y)
        cond = None
        if self.cond is not None:
            cond = self.cond[idx] + mcfg.cond_noise * torch.randn(self.cond[idx].shape).to(self.device)
        self.model.train()
        loss = velocity_loss(lambda xt, t: self.model(xt, t, y, cond), self.x1[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update(self.model)
        return loss.item()

    def _save(self, step: int) -> None:
        state = {"step": step, "model": self.model.state_dict(), "ema": self.ema.state_dict(),
                 "opt": self.opt.state_dict(), "rng": rng_state(), "config": self.cfg.to_dict()}
        save_checkpoint(state, self.out / "checkpoints" / LATEST)
        export = Generator(self.mcfg)
        export.load_state_dict(self.ema.shadow)
        save_generator(export, self.out / MODEL_FILE, {"gpstoken.train.step": str(step)})
        self._event("checkpoint", step=step)

    def run(self) -> dict[str, Any]:
        """Train to ``steps`` or a stop request; returns ``{"step", "status", "loss"}``."""
        self._setup()
        trim_metrics(self.out / METRICS_FILE, self.start)
        cfg = self.cfg
        self._event("started", step=self.start, steps=cfg.steps, kind=self.mcfg.kind, examples=int(self.x1.shape[0]),
                    device=str(self.device))
        step, status, losses, tick = self.start, "finished", [], time.perf_counter()
        with self.stop:
            while step < cfg.steps:
                losses.append(self._step())
                step += 1
                if step % cfg.log_every == 0 or step == cfg.steps:
                    rate = len(losses) * cfg.batch / max(time.perf_counter() - tick, 1e-9)
                    row = {"step": step, "loss": round(float(np.mean(losses)), 6), "lr": cfg.lr,
                           "ex_per_s": round(rate, 2), "time": round(time.time(), 3)}
                    with open(self.out / METRICS_FILE, "a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    losses, tick = [], time.perf_counter()
                if self.stop.requested:
                    status = "stopped"
                    break
                if step % cfg.ckpt_every == 0 and step < cfg.steps:
                    self._save(step)
            self._save(step)
        self._event(status, step=step)
        return {"step": step, "status": status}
