"""The tokenizer training loop: data, losses, EMA, evaluation, samples, checkpoints, stop/resume, DDP.

A run folder holds ``config.json`` (the resolved TrainConfig), ``run.json`` (data sources),
``metrics.jsonl`` (training rows every ``log_every`` steps and held-out PSNR/SSIM rows every
``eval_every``), ``events.jsonl`` (started/checkpoint/stopped/finished/error), ``samples/*.png``,
``checkpoints/{latest,best,step_*}.pt`` and ``model.safetensors`` / ``model_best.safetensors`` (EMA
weights at inference shape, loadable with ``load_tokenizer``). SIGINT/SIGTERM finish the current
step, save and return. Under ``torchrun`` each rank trains its slots of the global batch, rank 0 writes.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from ..errors import GPSTokenError
from .config import TrainConfig
from .data import (StepBatches, TokenizerDataset, eval_image, initial_layout, list_images, make_loader,
                   split_heldout)
from .distributed import Dist, pick_device
from .ema import EMA
from .flat_plane import FlatPlaneTerm
from .losses import TokenizerLoss
from .state import (BEST, LATEST, StopFlag, load_checkpoint, numbered, read_run_json, rng_state, save_checkpoint,
                    set_rng_state, trim_metrics)

CONFIG_FILE, RUN_FILE, METRICS_FILE, EVENTS_FILE = "config.json", "run.json", "metrics.jsonl", "events.jsonl"
MODEL_FILE, BEST_MODEL_FILE = "model.safetensors", "model_best.safetensors"
PROCESS_FILE = "process.json"  # {"pid"} while a trainer runs in the folder


@dataclass(frozen=True)
class RunSpec:
    """What to train and where: config (None on resume: the run's own), data sources, run folder."""

    out: Path
    config: TrainConfig | None = None
    data: str | None = None
    heldout: str | None = None
    resume: bool = False
    steps: int | None = None
    extend: int = 0
    device: str | None = None
    workers: int = 0
    weights: str | None = None  # a new run starts from this model file's weights (fine-tuning)


def resolve_run(spec: RunSpec) -> tuple[TrainConfig, dict[str, Any], int]:
    """The config, data sources and start step of a new or resumed run (validated, nothing written)."""
    out = Path(spec.out)
    cfg_path = out / CONFIG_FILE
    if not spec.resume:
        if cfg_path.exists():
            raise GPSTokenError(f"{out} already holds a run: pass --resume (or --extend) or choose another --out")
        if spec.config is None or spec.data is None:
            raise GPSTokenError("a new run needs --config and --data")
        cfg = spec.config.replace(steps=spec.steps) if spec.steps else spec.config
        sources = {"data": spec.data, "heldout": spec.heldout}
        if spec.weights:
            sources["weights"] = str(spec.weights)
        return cfg.replace(steps=cfg.steps + spec.extend), sources, 0
    if not cfg_path.is_file():
        raise GPSTokenError(f"nothing to resume: {out} holds no {CONFIG_FILE}")
    saved = saved_config(out)
    if spec.config is not None:
        diff = saved.differences(spec.config)
        if diff:
            raise GPSTokenError(f"the config does not fit the run in {out}: {', '.join(diff)} differ "
                                f"(omit --config to continue with the run's own)")
    sources = read_run_json(out / RUN_FILE)
    if not isinstance(sources, dict) or not isinstance(sources.get("data"), str):
        raise GPSTokenError(f"{out / RUN_FILE}: names no data source (a damaged run folder)")
    if spec.data:
        sources["data"] = spec.data
    if spec.heldout:
        sources["heldout"] = spec.heldout
    ckpt = out / "checkpoints" / LATEST
    start = int(load_checkpoint(ckpt)["step"]) if ckpt.exists() else 0
    steps = spec.steps or saved.steps
    return saved.replace(steps=steps + spec.extend), sources, start


def saved_config(out: Path) -> TrainConfig:
    """The TrainConfig of the run in ``out``; a generator run or a damaged file is one line."""
    doc = read_run_json(Path(out) / CONFIG_FILE)
    model = doc.get("model") if isinstance(doc, dict) else None
    if isinstance(model, dict) and "kind" in model:
        raise GPSTokenError(f"{out} holds a {model['kind']} generator run, not a tokenizer run: resume it with "
                            f"gpstoken train {model['kind']}")
    if not isinstance(doc, dict):
        raise GPSTokenError(f"{Path(out) / CONFIG_FILE}: not a training config")
    return TrainConfig.from_dict(doc)


class Trainer:
    """One training run; ``run()`` trains until the step count or a stop request, then returns a summary."""

    def __init__(self, spec: RunSpec, on_event: Callable[[dict], None] | None = None) -> None:
        self.spec = spec
        self.out = Path(spec.out)
        self.cfg, self.sources, self.start = resolve_run(spec)
        self.device = pick_device(spec.device)
        self.on_event = on_event
        self.stop = StopFlag()
        self.dist: Dist | None = None

    # --- files -----------------------------------------------------------------------------------

    def _event(self, event: str, **fields: Any) -> None:
        row = {"time": round(time.time(), 3), "event": event, **fields}
        if self.dist is None or self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / EVENTS_FILE, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            if self.on_event:
                self.on_event(row)

    def _metrics(self, row: dict[str, Any]) -> None:
        if self.dist.main:
            with open(self.out / METRICS_FILE, "a") as fh:
                fh.write(json.dumps(row) + "\n")

    # --- setup -----------------------------------------------------------------------------------

    def _setup(self) -> None:
        from ..models import GPSTokenizer

        cfg = self.cfg
        self.dist = Dist(self.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        images = list_images(self.sources["data"])
        train_paths, heldout = split_heldout(images.paths, self.sources.get("heldout"), cfg.eval_images)
        self.train_paths, self.heldout = train_paths, tuple(heldout[:max(cfg.eval_images, cfg.sample_images)])
        self.skipped = images.skipped

        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.train_cfg = cfg.train_model_config()
        self.model = GPSTokenizer(self.train_cfg).to(self.device)
        if not self.start and self.sources.get("weights"):
            self._load_weights(self.sources["weights"])
        self.loss = TokenizerLoss(cfg.perceptual_weight, cfg.disc_start, cfg.disc_weight).to(self.device)
        self.flat = (FlatPlaneTerm(cfg.crop_size, self.train_cfg.gps_num, cfg.lam, cfg.min_size)
                     if cfg.flat_weight > 0 else None)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.disc_opt = torch.optim.Adam(self.loss.discriminator.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.ema = EMA(self.model, cfg.ema_beta, cfg.ema_update_every, cfg.ema_update_after, cfg.ema_power)
        self.eval_model = GPSTokenizer(cfg.model_config).to(self.device).eval()
        self.best = -float("inf")
        if self.start:
            self._restore(load_checkpoint(self.out / "checkpoints" / LATEST))
        if self.dist.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # find_unused: the image branch's temb_proj weights exist only for checkpoint compatibility
            self.ddp = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True)
        else:
            self.ddp = self.model
        self._prepare_heldout()

    def _load_weights(self, path: str) -> None:
        """Start from a model file's weights; its architecture must match the run's (the layout of
        the render grid and the token count may differ: the weights do not depend on them)."""
        from ..models import load_tokenizer

        source = load_tokenizer(path, device="cpu")
        theirs, ours = source.config.decoder_norm, self.cfg.model_config.decoder_norm
        if theirs != ours:  # same parameter names, so the weights would load into the wrong layers
            raise GPSTokenError(f"{path}: its decoder norm is {theirs!r}, this run's model has {ours!r} "
                                f"(set decoder_norm in the config's model)")
        theirs, ours = source.config.gpsenc_n, self.cfg.model_config.gpsenc_n
        if theirs < ours:
            raise GPSTokenError(f"{path}: its encoder has {theirs} blocks, this run's has {ours} "
                                f"(python -m gpstoken.train.grow_encoder MODEL OUT --depth {ours} deepens it)")
        try:
            self.model.load_state_dict(source.state_dict())
        except RuntimeError:
            raise GPSTokenError(f"{path}: its weights do not fit the {self.cfg.model_config.name} model of this run") from None

    def _prepare_heldout(self) -> None:
        """Fixed evaluation tiles (shortest side to max(resize, tile), centre crop) and their layouts."""
        cfg, tile = self.cfg, self.cfg.model_config.tile_size
        self.eval_set = []
        for path in self.heldout:
            image = eval_image(path, max(cfg.resize, tile), tile)
            g, r = initial_layout(image, cfg.model_config.gps_num, cfg.init, cfg.lam, cfg.min_size)
            self.eval_set.append((image, g, r))

    def _write_run_files(self) -> None:
        if not self.dist.main:
            return
        from ..io.atomic import atomic_path

        self.out.mkdir(parents=True, exist_ok=True)
        for name, doc in ((CONFIG_FILE, self.cfg.to_dict()), (RUN_FILE, {**self.sources, "heldout_images": list(self.heldout)})):
            with atomic_path(self.out / name) as tmp:
                tmp.write_text(json.dumps(doc, indent=1))

    # --- checkpoints -----------------------------------------------------------------------------

    def _state(self, step: int) -> dict[str, Any]:
        return {"step": step, "model": self.model.state_dict(), "ema": self.ema.state_dict(),
                "opt": self.opt.state_dict(), "disc": self.loss.discriminator.state_dict(),
                "disc_opt": self.disc_opt.state_dict(), "rng": rng_state(), "best": self.best,
                "config": self.cfg.to_dict()}

    def _restore(self, state: dict[str, Any]) -> None:
        saved = TrainConfig.from_dict(state["config"])
        if saved.differences(self.cfg):
            raise GPSTokenError(f"the checkpoint in {self.out} was written with another config")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.loss.discriminator.load_state_dict(state["disc"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        set_rng_state(state["rng"])
        self.best = float(state["best"])

    def _save(self, step: int, best: bool = False) -> None:
        if not self.dist.main:
            return
        from ..models import save_tokenizer

        ckpt = self.out / "checkpoints"
        state = self._state(step)
        save_checkpoint(state, ckpt / LATEST)
        if step % self.cfg.keep_every == 0:
            save_checkpoint(state, ckpt / numbered(step))
        self._load_ema_into_eval()
        meta = {"gpstoken.train.step": str(step), "gpstoken.train.init": self.cfg.init}
        save_tokenizer(self.eval_model, self.out / MODEL_FILE, meta)
        if best:
            save_checkpoint(state, ckpt / BEST)
            save_tokenizer(self.eval_model, self.out / BEST_MODEL_FILE, meta)
        self._event("checkpoint", step=step, best=best)

    def _load_ema_into_eval(self) -> None:
        self.eval_model.load_state_dict(self.ema.shadow)

    # --- evaluation ------------------------------------------------------------------------------

    def evaluate(self) -> dict[str, float]:
        """Mean PSNR/SSIM of the EMA model on the held-out tiles; keeps the sample rows for the grid."""
        from ..metrics import psnr, ssim
        from .evaluate import reconstruct_tile

        self._load_ema_into_eval()
        scores, rows = [], []
        for i, (image, g, r) in enumerate(self.eval_set):
            out, tokens = reconstruct_tile(self.eval_model, image, g, r, self.cfg.precision)
            if i < self.cfg.eval_images:
                scores.append((psnr(image, out), ssim(image, out)))
            if i < self.cfg.sample_images:
                rows.append((image, g, out, tokens))
        self._last_rows = rows
        p, s = np.mean(scores, axis=0) if scores else (float("nan"), float("nan"))
        return {"psnr": float(p), "ssim": float(s)}

    def _write_samples(self, step: int) -> None:
        from ..io.images import save_image
        from .samples import sample_grid, sample_row

        if self.dist.main and getattr(self, "_last_rows", None):
            save_image(self.out / "samples" / f"step_{step:08d}.png",
                       sample_grid([sample_row(*row) for row in self._last_rows]))

    # --- the loop --------------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager:
        use = self.cfg.precision == "bf16" or (self.cfg.precision == "auto" and self.device.type == "cuda")
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=use)

    def _batches(self) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
        cfg = self.cfg
        dataset = TokenizerDataset(self.train_paths, cfg.crop_size, self.train_cfg.gps_num, cfg.resize, cfg.init,
                                   cfg.lam, cfg.min_size, cfg.random_crop, cfg.flip)
        sampler = StepBatches(len(self.train_paths), cfg.batch, self.start, cfg.steps, cfg.seed,
                              self.dist.rank, self.dist.world)
        return zip(range(self.start, cfg.steps), make_loader(dataset, sampler, self.spec.workers))

    def _train_step(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        x = batch["image"].to(self.device, non_blocking=True)
        g, r = batch["g_init"].to(self.device), batch["regions"].to(self.device)
        self.ddp.train()
        with self._autocast():
            x_hat = self.ddp(x, g, r)
        if self.loss.gan_active(step) and (step - self.cfg.disc_start) % 2 == 1:
            loss, logs = self.loss.discriminator_loss(x, x_hat)
            self.disc_opt.zero_grad(set_to_none=True)
            loss.backward()
            self._average_disc_grads()
            self.disc_opt.step()
            return logs
        loss, logs = self.loss.autoencoder(x, x_hat, step, self.model.decoder.conv_out.weight)
        if self.flat is not None:
            with self._autocast():
                flat_loss, flat_logs = self.flat(self.model, self.cfg.flat_weight)
            loss = loss + flat_loss
            logs.update(flat_logs)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clip > 0:
            logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip))
        self.opt.step()
        self.ema.update(self.model)
        return logs

    def _average_disc_grads(self) -> None:
        """All-reduce the discriminator's gradients (it is not DDP-wrapped: the generator step also runs it)."""
        if not self.dist.active:
            return
        for p in self.loss.discriminator.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad /= self.dist.world

    def run(self) -> dict[str, Any]:
        """Train; returns ``{"step", "status" ("finished"|"stopped"), "psnr", "ssim"}``."""
        self._setup()
        try:
            with self.stop:
                return self._loop()
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self._event("error", message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        finally:
            if self.dist is not None:
                if self.dist.main:
                    (self.out / PROCESS_FILE).unlink(missing_ok=True)
                self.dist.close()

    def _loop(self) -> dict[str, Any]:
        cfg = self.cfg
        self._write_run_files()
        if self.dist.main:
            trim_metrics(self.out / METRICS_FILE, self.start)
            from ..io.atomic import atomic_path

            with atomic_path(self.out / PROCESS_FILE) as tmp:
                tmp.write_text(json.dumps({"pid": os.getpid()}))
        self._event("started", step=self.start, steps=cfg.steps, train_images=len(self.train_paths),
                    skipped=self.skipped, heldout=len(self.heldout), world=self.dist.world,
                    device=str(self.device), perceptual=self.loss.perceptual_status,
                    train_shape={"crop": cfg.crop_size, "tokens": self.train_cfg.gps_num})
        step, status, last = self.start, "finished", {}
        tick, done_since_tick = time.perf_counter(), 0
        for step_index, batch in self._batches():
            logs = self._train_step(step_index, batch)
            step = step_index + 1
            done_since_tick += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                elapsed = time.perf_counter() - tick
                rate = done_since_tick * cfg.batch * self.dist.world / max(elapsed, 1e-9)
                self._metrics({"step": step, **{k: round(v, 6) for k, v in logs.items()}, "lr": cfg.lr,
                               "img_per_s": round(rate, 3), "time": round(time.time(), 3)})
                tick, done_since_tick = time.perf_counter(), 0
            stopping = self.dist.any(self.stop.requested)
            best = False
            if step % cfg.eval_every == 0 or step == cfg.steps or stopping:
                last = self.evaluate() if self.dist.main else {}
                if last:
                    self._metrics({"step": step, "split": "heldout", **last, "time": round(time.time(), 3)})
                    best = last["psnr"] > self.best
                    self.best = max(self.best, last["psnr"])
                if step % cfg.sample_every == 0 or step == cfg.steps:
                    self._write_samples(step)
            if step % cfg.ckpt_every == 0 or step == cfg.steps or stopping or best:
                self._save(step, best)
            if stopping:
                status = "stopped"
                break
        if self.start >= cfg.steps:
            self._save(step)  # nothing left to train: re-export
        self._event(status, step=step, **last)
        return {"step": step, "status": status, **last}


def train_tokenizer(spec: RunSpec, on_event: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a tokenizer training run described by ``spec``; see :class:`Trainer`."""
    return Trainer(spec, on_event).run()
