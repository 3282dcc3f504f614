"""The training panel's state without Qt: the form (and the command it runs) and a run's history."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from gpstoken.errors import GPSTokenError
from gpstoken.train.config import load_train_config
from gpstoken.train.data import list_images, split_heldout
from gpstoken.train.runner import training_command

PRESETS = ("tiny", "micro", "s64", "m128", "l256")
LOSS_KEY = "rec_loss"


@dataclass
class TrainingForm:
    """What the user asks for; zero / empty fields keep the config's value."""

    preset: str = "tiny"
    yaml: str = ""  # a YAML config replaces the preset when set
    data: str = ""
    heldout: str = ""  # a folder or list file, or a count of the data's last images; empty: the trainer's default
    steps: int = 0
    batch: int = 0
    lr: float = 0.0
    out: str = ""
    device: str = ""

    @property
    def config(self) -> str:
        return self.yaml or self.preset

    def args(self) -> list[str]:
        """The overriding options after --config/--data."""
        pairs = (("--heldout", self.heldout), ("--steps", self.steps), ("--batch", self.batch), ("--lr", self.lr),
                 ("--device", self.device))
        return [a for flag, value in pairs if value for a in (flag, f"{value:g}" if isinstance(value, float) else
                                                                 str(value))]

    def split(self) -> str:
        """The training / held-out counts the run will use, as one line (or why it cannot start)."""
        if not self.data:
            return "Choose the training images (a folder or a list file)"
        try:
            paths = list_images(self.data, check=False).paths
            eval_images = load_train_config(self.config).eval_images
            train, held = split_heldout(paths, self.heldout or None, eval_images)
        except (GPSTokenError, OSError, ValueError) as exc:
            return str(exc)
        given = self.heldout.strip()
        if given == "0" or len(paths) == 1:
            return f"{len(train)} training, none held out (a training image is scored)"
        if given and not given.isdigit():
            how = f"from {Path(given).name}"
        else:
            how = f"the last {len(held)} of Data" if given else f"default: the last fifth of Data, 1 to {eval_images}"
        scored = f"; {eval_images} scored" if len(held) > eval_images else ""
        return f"{len(train)} training + {len(held)} held-out ({how}{scored})"

    def command(self, threads: int = 1) -> list[str]:
        return training_command(self.out, self.config, self.data or None, self.args(), threads=threads)

    def command_text(self, threads: int = 1) -> str:
        """The command as one shell line (copyable)."""
        return shlex.join(self.command(threads))


def ema(values: list[float], beta: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (the first value is not pulled to 0)."""
    out, avg = [], 0.0
    for k, v in enumerate(values, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** k))
    return out


@dataclass
class RunHistory:
    """A run's rows folded into curves, status and rates (feed it ``TrainingRun.poll_events()``)."""

    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    psnr: list[tuple[int, float]] = field(default_factory=list)
    img_per_s: float = 0.0
    total_steps: int = 0
    status: str = ""  # the last event: started / checkpoint / stopped / finished / error
    message: str = ""

    def add(self, row: dict) -> None:
        if row.get("source") == "events":
            self.status = row.get("event", self.status)
            self.total_steps = int(row.get("steps", self.total_steps))
            self.message = row.get("message", self.message)
        elif row.get("split") == "heldout":
            self.psnr = [p for p in self.psnr if p[0] < row["step"]] + [(int(row["step"]), float(row["psnr"]))]
        elif LOSS_KEY in row:
            keep = sum(1 for s in self.steps if s < row["step"])  # a resumed run rewrites rows past its checkpoint
            del self.steps[keep:], self.losses[keep:], self.times[keep:]
            self.steps.append(int(row["step"]))
            self.losses.append(float(row[LOSS_KEY]))
            self.times.append(float(row.get("time", 0.0)))
            self.img_per_s = float(row.get("img_per_s", 0.0))

    @property
    def step(self) -> int:
        return self.steps[-1] if self.steps else 0

    def steps_per_s(self, window: int = 20) -> float:
        """Over the last ``window`` logged rows (0 when unknown)."""
        if len(self.steps) < 2:
            return 0.0
        k = max(0, len(self.steps) - window)
        dt = self.times[-1] - self.times[k]
        return (self.steps[-1] - self.steps[k]) / dt if dt > 0 else 0.0

    def eta_s(self) -> float | None:
        rate = self.steps_per_s()
        if not rate or not self.total_steps:
            return None
        return max(self.total_steps - self.step, 0) / rate


def run_models(out: str | Path) -> list[Path]:
    """The run's exported models, then its checkpoints (newest step first)."""
    out = Path(out)
    models = [out / n for n in ("model.safetensors", "model_best.safetensors") if (out / n).is_file()]
    ckpts = sorted((out / "checkpoints").glob("*.pt"), key=lambda p: p.stat().st_mtime, reverse=True)
    return models + ckpts


def newest_sample(out: str | Path) -> Path | None:
    samples = sorted(Path(out).glob("samples/step_*.png"))
    return samples[-1] if samples else None


def log_tail(out: str | Path, lines: int = 12) -> str:
    path = Path(out) / "train.log"
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
