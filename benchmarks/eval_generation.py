"""Are generated samples recognisable? A judge the generators never saw: a small CNN classifier trained
on the real training emoji (the model card and docs/benchmarks.md numbers).

Reports the classifier's accuracy on held-out real emoji (and on the tokenizer's reconstructions of
them: what a perfect generator could reach through this decoder); then, for ``--per-class`` generated
samples of each class: their class accuracy, a Frechet distance on the classifier's penultimate
features against held-out real emoji (floor: real training emoji against the same held-out set), and
each sample's distance to its nearest training image (RMSE in 8-bit levels), next to the same distance
for held-out real emoji and for the tokenizer's own reconstructions of training images (copies).

Usage: python benchmarks/eval_generation.py [--models emoji] [--data DIR] [--per-class 64] [--cfg 1 3]
       [--classifier PATH.pt] [--json OUT.json] [--grid OUT.png]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 128


class Judge(nn.Module):
    """Four conv blocks (64 -> 4 px) and a linear head; ``features`` is the pooled 128-d vector."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        layers, width = [], 3
        for out in (32, 64, 128, FEATURES):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
            width = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_batch(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[B,H,W,3]`` -> float ``[B,3,H,W]`` in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flips, shifts of up to 4 px (white fill) and a random blur (the decoder's output is soft)."""
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = nn.functional.pad(x, (4, 4, 4, 4), value=1.0)
    dy, dx = torch.randint(0, 9, (2, b), generator=gen)
    size = x.shape[-1]
    x = torch.stack([pad[i, :, dy[i]:dy[i] + size, dx[i]:dx[i] + size] for i in range(b)])
    sigma = torch.rand(b, generator=gen) * 1.5
    k = torch.arange(-3, 4, dtype=torch.float32)
    kernels = torch.exp(-k[None] ** 2 / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    kernels = kernels / kernels.sum(1, keepdim=True)
    out = []
    for i in range(b):
        w = kernels[i]
        img = nn.functional.pad(x[i:i + 1], (3, 3, 3, 3), mode="replicate")
        img = nn.functional.conv2d(img, w.view(1, 1, 1, 7).repeat(3, 1, 1, 1), groups=3)
        out.append(nn.functional.conv2d(img, w.view(1, 1, 7, 1).repeat(3, 1, 1, 1), groups=3))
    return torch.cat(out)


def train_judge(images: np.ndarray, labels: np.ndarray, classes: int, epochs: int, seed: int = 0) -> Judge:
    """Adam, batch 64, class-balanced loss weights, ``epochs`` passes over the training emoji."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Judge(classes)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    counts = np.bincount(labels, minlength=classes)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(counts.sum() / (classes * counts), dtype=torch.float32))
    x_all, y_all = to_batch(images), torch.from_numpy(labels)
    steps = epochs * (len(images) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    model.train()
    for step in range(steps):
        idx = torch.randint(0, len(images), (64,), generator=gen)
        loss = loss_fn(model(augment(x_all[idx], gen)), y_all[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            print(f"judge step {step}/{steps} loss {loss.item():.3f}", file=sys.stderr, flush=True)
    return model.eval()


@torch.no_grad()
def judge_outputs(model: Judge, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted classes and penultimate features of uint8 images."""
    preds, feats = [], []
    for s in range(0, len(images), 128):
        f = model.features(to_batch(images[s:s + 128]))
        feats.append(f.numpy())
        preds.append(model.head(f).argmax(1).numpy())
    return np.concatenate(preds), np.concatenate(feats).astype(np.float64)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets ``[n, d]``."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(ca + cb - 2 * root.real))


def nearest_distance(images: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per image, the RMSE (8-bit levels) to its nearest training image."""
    t = train.reshape(len(train), -1).astype(np.float32)
    t_sq = (t ** 2).sum(1)
    out = []
    for s in range(0, len(images), 256):
        q = images[s:s + 256].reshape(-1, t.shape[1]).astype(np.float32)
        d2 = (q ** 2).sum(1)[:, None] + t_sq[None] - 2 * q @ t.T
        out.append(np.sqrt(np.maximum(d2.min(1), 0) / t.shape[1]))
    return np.concatenate(out)


def load_split(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from gpstoken.generate.data import list_images
    from gpstoken.io.images import load_image

    files, labels, names = list_images(folder)
    return np.stack([load_image(f) for f in files]), np.asarray(labels), names


@torch.no_grad()
def reconstruct_all(tokenizer, images: np.ndarray, min_size: int) -> np.ndarray:
    """The tokenizer's reconstructions (entropy partition with regions of at least ``min_size`` px)."""
    from gpstoken.models.pipeline import partition_image, reconstruct

    return np.stack([reconstruct(tokenizer, im, layout=partition_image(tokenizer, im, min_size=min_size)).image()
                     for im in images])


@torch.no_grad()
def generate_class(models: dict, label: int, count: int, cfg_scale: float, seed: int, method: str = "ode",
                   steps: int = 50) -> np.ndarray:
    """``count`` samples of one class: stage 1 (calibrated), stage 2, merged decode per tile."""
    from gpstoken.generate.layout import sample_layouts
    from gpstoken.generate.texture import sample_tokens
    from gpstoken.models.pipeline import to_uint8

    gen = torch.Generator().manual_seed(seed)
    _, cal = sample_layouts(models["layout"], label, count, method=method, steps=steps, cfg_scale=cfg_scale, generator=gen)
    tokens = sample_tokens(models["texture"], cal.g_init, label, method=method, steps=steps, cfg_scale=cfg_scale,
                           generator=gen)
    recon = models["tokenizer"].decode(tokens.float(), (1, 1), "merged").float().numpy()
    return np.stack([to_uint8(r) for r in recon])


def sample_grid_image(samples: dict[int, np.ndarray], names: list[str], per_row: int, scale: int = 2) -> np.ndarray:
    """One row per class (name on the left), ``per_row`` samples each, upscaled by ``scale``."""
    from PIL import Image, ImageDraw, ImageFont

    tile = next(iter(samples.values())).shape[1]
    label_w, gap = 150, 4
    width = label_w + per_row * (tile * scale + gap)
    height = len(samples) * (tile * scale + gap)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 14)
    except OSError:
        font = ImageFont.load_default()
    for row, (label, images) in enumerate(sorted(samples.items())):
        y = row * (tile * scale + gap)
        draw.text((4, y + tile * scale // 2 - 8), names[label], fill=(0, 0, 0), font=font)
        for j, im in enumerate(images[:per_row]):
            big = Image.fromarray(im).resize((tile * scale,) * 2, Image.Resampling.NEAREST)
            canvas.paste(big, (label_w + j * (tile * scale + gap), y))
    return np.asarray(canvas)


def main(argv: list[str] | None = None) -> int:
    from gpstoken.generate import load_generator
    from gpstoken.generate.model_sets import load_model_set
    from gpstoken.io.images import save_image
    from gpstoken.models import load_tokenizer
    from gpstoken.train.emoji_data import build_emoji_data, default_emoji_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="emoji", help="model set: bundled name or folder (default emoji)")
    parser.add_argument("--data", help="emoji data folder (default: built by gpstoken.train.emoji_data)")
    parser.add_argument("--per-class", type=int, default=64, help="generated samples per class (default 64)")
    parser.add_argument("--cfg", type=float, nargs="+", default=[3.0], help="guidance scales to evaluate (default 3)")
    parser.add_argument("--sampler", default="euler", help="both stages' sampler (default euler)")
    parser.add_argument("--steps", type=int, default=25, help="sampler steps (default 25)")
    parser.add_argument("--classifier", help="judge weights: loaded if the file exists, else trained and saved")
    parser.add_argument("--epochs", type=int, default=60, help="judge training epochs (default 60)")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--grid", help="write a PNG of samples per class (first --cfg value)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = Path(args.data) if args.data else default_emoji_dir()
    if not (data / "manifest.json").exists():
        build_emoji_data(data)
    train_x, train_y, names = load_split(data / "train")
    held_x, held_y, _ = load_split(data / "heldout")
    classes = len(names)
    names = json.loads((data / "manifest.json").read_text())["classes"]
    start = time.time()
    if args.classifier and Path(args.classifier).is_file():
        judge = Judge(classes)
        judge.load_state_dict(torch.load(args.classifier, weights_only=True))
        judge.eval()
    else:
        judge = train_judge(train_x, train_y, classes, args.epochs, args.seed)
        if args.classifier:
            torch.save(judge.state_dict(), args.classifier)
    result: dict = {"classes": names, "train_images": int(len(train_x)), "heldout_images": int(len(held_x))}
    held_pred, held_feat = judge_outputs(judge, held_x)
    train_pred, train_feat = judge_outputs(judge, train_x)
    result["judge"] = {"train_accuracy": float((train_pred == train_y).mean()),
                       "heldout_accuracy": float((held_pred == held_y).mean()),
                       "heldout_class_mean_accuracy": _class_mean(held_pred, held_y, classes)}
    model_set = load_model_set(args.models)
    tokenizer = load_tokenizer(model_set.file("tokenizer"))
    models = {"tokenizer": tokenizer, "layout": load_generator(model_set.file("layout")),
              "texture": load_generator(model_set.file("texture"))}
    min_size = models["texture"].config.min_size
    held_rec = reconstruct_all(tokenizer, held_x, min_size)
    rec_pred, _ = judge_outputs(judge, held_rec)
    result["judge"]["heldout_reconstruction_accuracy"] = float((rec_pred == held_y).mean())
    train_rec = reconstruct_all(tokenizer, train_x[::8], min_size)
    copy_dist = nearest_distance(train_rec, train_x)
    held_dist = nearest_distance(held_x, train_x)
    result["real"] = {"fd_train_vs_heldout": frechet_distance(train_feat, held_feat),
                      "nearest_train_rmse_heldout_median": float(np.median(held_dist)),
                      "nearest_train_rmse_heldout_min": float(held_dist.min()),
                      "nearest_train_rmse_reconstructed_train_median": float(np.median(copy_dist))}
    copy_threshold = float(np.percentile(copy_dist, 90))
    # held-out emoji include near-twins of training ones (gender and hair variants, similar flags): the
    # rate at which real unseen emoji fall under the threshold is the rate that is not copying
    result["real"]["heldout_below_copy_threshold"] = float((held_dist < copy_threshold).mean())
    result["generated"] = []
    for scale in args.cfg:
        samples = {c: generate_class(models, c, args.per_class, scale, args.seed + 1000 * c, args.sampler, args.steps)
                   for c in range(classes)}
        gen_x = np.concatenate([samples[c] for c in range(classes)])
        gen_y = np.repeat(np.arange(classes), args.per_class)
        pred, feat = judge_outputs(judge, gen_x)
        dist = nearest_distance(gen_x, train_x)
        result["generated"].append({
            "cfg": scale, "sampler": f"{args.sampler} {args.steps}", "samples": int(len(gen_x)),
            "accuracy": float((pred == gen_y).mean()),
            "per_class_accuracy": {names[c]: float((pred[gen_y == c] == c).mean()) for c in range(classes)},
            "fd_vs_heldout": frechet_distance(feat, held_feat),
            "nearest_train_rmse_median": float(np.median(dist)), "nearest_train_rmse_min": float(dist.min()),
            "near_copies": int((dist < copy_threshold).sum()), "copy_threshold_rmse": copy_threshold})
        print(json.dumps(result["generated"][-1]), file=sys.stderr, flush=True)
        if args.grid and scale == args.cfg[0]:
            save_image(args.grid, sample_grid_image(samples, names, 8))
    result["seconds"] = round(time.time() - start, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


def _class_mean(pred: np.ndarray, truth: np.ndarray, classes: int) -> float:
    return float(np.mean([(pred[truth == c] == c).mean() for c in range(classes) if (truth == c).any()]))


if __name__ == "__main__":
    raise SystemExit(main())
