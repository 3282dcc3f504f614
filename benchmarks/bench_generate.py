"""Generation benchmark: stage-2 sampling cost per 256x256 image, per sampler, ours vs the reference's recipe.

The reference samples textures with its SDE: 250 grid points, and two model calls per step (drift and
score, with identical inputs) - 499 calls. Ours computes both from one call (250 calls), and offers an
adaptive ODE (dopri5, the reference's ``--ode``) and fixed-step Euler/Heun. For each sampler the table
gives the model calls (NFE), the median wall time of a stage-2 sample over ``--repeats`` runs and the
ratio reference-SDE time / ours (the reference's cost measured here by running our SDE with the
reference's second model call added). Also: stage-1 layout sampling + calibration, and the decode.

Models: the bundled ``texture_tiny``/``layout_tiny``/``default`` when present, else random weights of
the same shapes (the cost does not depend on the values, except the adaptive ODE's step count).
Usage: python benchmarks/bench_generate.py [--repeats 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

MODELS = Path(__file__).resolve().parents[1] / "assets" / "models"


def load_or_random(name: str, preset_name: str):
    from gpstoken.generate import Generator, load_generator, preset

    path = MODELS / f"{name}.safetensors"
    if path.is_file():
        return load_generator(path), "bundled"
    torch.manual_seed(0)
    model = Generator(preset(preset_name)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.02)
    return model, "random"


def timed(fn, repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from gpstoken.calibrate import calibrate
    from gpstoken.generate import sample_layouts, sample_tokens
    from gpstoken.generate.samplers import sample

    texture, tex_kind = load_or_random("texture_tiny", "texture-tiny")
    layout, lay_kind = load_or_random("layout_tiny", "layout-tiny")
    print(f"texture model: {tex_kind} ({texture.config.name}), layout model: {lay_kind}; {args.threads} thread(s)")
    _, cal = sample_layouts(layout, 0, 1, method="euler", steps=5, generator=torch.Generator().manual_seed(0))
    g = torch.from_numpy(cal.g_init)

    calls = [0]
    original = texture.velocity

    def counted(*a, **k):
        calls[0] += 1
        return original(*a, **k)

    texture.velocity = counted
    rows = []
    for method, steps in (("sde", 250), ("ode", 0), ("heun", 25), ("euler", 50)):
        def run(method=method, steps=steps):
            calls[0] = 0
            sample_tokens(texture, g, 0, method=method, steps=steps or 50, generator=torch.Generator().manual_seed(1))
            return calls[0]

        seconds, nfe = timed(run, args.repeats)
        rows.append((method if steps == 0 else f"{method} {steps}", nfe, seconds))
    texture.velocity = original

    # the reference's SDE: the same steps with a second, identical model call for the score
    y, noise = torch.zeros(1, dtype=torch.long), torch.randn(1, g.shape[1], texture.config.in_channels)

    def twice(x, t):
        texture.velocity(x, t, y, cond=g)
        return texture.velocity(x, t, y, cond=g)

    with torch.no_grad():
        ref_seconds, _ = timed(lambda: sample(twice, noise, "sde", 250, generator=torch.Generator().manual_seed(1)),
                               args.repeats)
    print(f"\n{'sampler':<12}{'NFE':>6}{'s/image':>10}{'ref SDE / ours':>16}")
    print(f"{'ref sde 250':<12}{499:>6}{ref_seconds:>10.3f}{1.0:>16.2f}")
    for name, nfe, seconds in rows:
        print(f"{name:<12}{nfe:>6}{seconds:>10.3f}{ref_seconds / seconds:>16.2f}")

    def stage_one():
        raw, _ = sample_layouts(layout, 0, 1, method="ode", generator=torch.Generator().manual_seed(2))
        return raw

    lay_seconds, raw = timed(stage_one, args.repeats)
    cal_seconds, _ = timed(lambda: calibrate(raw[0], tokens=raw.shape[1]), args.repeats)
    print(f"\nstage 1 (layout, ode): {lay_seconds:.3f} s; calibration: {cal_seconds * 1000:.1f} ms")
    tokenizer_path = MODELS / "default.safetensors"
    if tokenizer_path.is_file():
        from gpstoken.models import load_tokenizer
        from gpstoken.models.pipeline import decode_tokens

        tok = load_tokenizer(tokenizer_path)
        tokens = sample_tokens(texture, g, 0, method="euler", steps=2).numpy()
        dec_seconds, _ = timed(lambda: decode_tokens(tok, tokens, (1, 1)), args.repeats)
        print(f"decode (bundled tokenizer): {dec_seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
