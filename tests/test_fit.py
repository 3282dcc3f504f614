"""Per-image fitting (gpstoken.fit): convergence, locks and freezes, weights, warm starts, cancel,
determinism, NaN recovery, odd image sizes, token files and the command line."""
import dataclasses
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import gpstoken
import gpstoken.fit as fit_module
from gpstoken.cli import main
from gpstoken.errors import GPSTokenError
from gpstoken.fit import FitOptions, fit
from gpstoken.fit_init import auto_min_size, fit_tiling, grid_layout, layout_from_token_set
from gpstoken.io.images import load_image, save_image
from gpstoken.io.tokenfile import TokenSet
from gpstoken.metrics import psnr
from gpstoken.tokens import check_gaussians, merge_tiles

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def small(name: str, size: int) -> np.ndarray:
    return cv2.resize(load_image(GOLDEN / f"{name}.png"), (size, size), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def img64():
    return small("astronaut", 64)


# --- convergence ---------------------------------------------------------------------------------


def test_psnr_rises_with_steps(img64, device):
    r = fit(img64, 32, steps=40, device=device)
    h = r.psnr_history
    assert len(h) == 41 and r.steps_done == 40 and r.stopped == "done"
    assert h[10] > h[0] + 0.5 and h[40] > h[10] + 0.3
    assert r.psnr == pytest.approx(h[-1])
    # the history is the PSNR of the clamped float render; the uint8 image agrees within rounding
    assert abs(psnr(img64, r.recon_uint8) - r.psnr) < 0.1


def test_colour_initialisation_is_a_decent_start(img64):
    flat = np.broadcast_to(img64.mean(axis=(0, 1)).round().astype(np.uint8), img64.shape)
    one = fit(img64, 32, steps=0, colour_init_iters=1)
    eight = fit(img64, 32, steps=0)  # 8 SIRT iterations by default
    assert eight.psnr > one.psnr > psnr(img64, flat) + 2


def test_result_shapes_and_ranges(img64):
    r = fit(img64, 16, steps=3)
    assert r.tokens.shape == (16, 8) and r.tokens.dtype == np.float32
    assert r.g_init.shape == (16, 5) and r.regions.shape == (16, 4)
    assert r.recon.shape == (3, 64, 64) and r.recon.dtype == np.float32
    assert r.recon_uint8.shape == (64, 64, 3) and r.recon_uint8.dtype == np.uint8
    check_gaussians(r.tokens)


# --- locks and freezes -----------------------------------------------------------------------------


def test_locked_tokens_keep_their_geometry_exactly(img64, device):
    locked = np.zeros(32, dtype=bool)
    locked[::3] = True
    r = fit(img64, 32, steps=15, locked=locked, device=device)
    assert np.array_equal(r.tokens[locked, :5], r.g_init[locked])
    assert not np.allclose(r.tokens[~locked, :5], r.g_init[~locked], atol=1e-4)


def test_locked_tokens_stay_put_in_a_warm_start(img64):
    first = fit(img64, 32, steps=10)
    locked = np.zeros(32, dtype=bool)
    locked[[1, 7]] = True
    r = fit(img64, warm_start=first, steps=10, locked=locked)
    assert np.array_equal(r.tokens[locked, :5], first.tokens[locked, :5])


def test_frozen_geometry_stays_exactly_at_g_init(img64):
    before = fit(img64, 32, steps=0, freeze="geometry")
    r = fit(img64, 32, steps=10, freeze="geometry")
    assert np.array_equal(r.tokens[:, :5], r.g_init)
    assert not np.array_equal(r.tokens[:, 5:], before.tokens[:, 5:])
    assert r.psnr > before.psnr


def test_frozen_features_keep_the_initial_colours_exactly(img64):
    before = fit(img64, 32, steps=0)
    r = fit(img64, 32, steps=10, freeze="features")
    assert np.array_equal(r.tokens[:, 5:], before.tokens[:, 5:])
    assert not np.allclose(r.tokens[:, :5], before.tokens[:, :5], atol=1e-4)


# --- weights, warm start, cancel, determinism ------------------------------------------------------


def test_weight_map_raises_psnr_inside_the_weighted_region(img64):
    weight = np.ones((64, 64), np.float32)
    weight[8:32, 8:32] = 50.0
    mask = weight > 1
    plain = fit(img64, 24, steps=40)
    weighted = fit(img64, 24, steps=40, weight=weight)
    inside_plain = psnr(img64, plain.recon_uint8, mask=mask)
    inside_weighted = psnr(img64, weighted.recon_uint8, mask=mask)
    assert inside_weighted > inside_plain + 1.0


def test_warm_start_regains_the_psnr_after_moving_one_gaussian():
    img = small("astronaut", 128)
    first = fit(img, 64, steps=100)
    moved = first.tokens.copy()
    k = int(np.argmin(np.abs(moved[:, 3]) + np.abs(moved[:, 4])))  # the most central token
    moved[k, 3] += 2 * moved[k, 0]
    again = fit(img, warm_start=dataclasses.replace(first, tokens=moved), steps=50)
    assert again.psnr_history[0] < first.psnr - 0.05  # the move really hurt
    assert again.psnr_history.max() >= first.psnr


def test_warm_start_from_a_token_file_does_not_kick(img64, tmp_path):
    first = fit(img64, 32, steps=40)
    first.to_token_set().save(tmp_path / "t.npz")
    again = fit(img64, init=tmp_path / "t.npz", steps=5)
    assert again.psnr_history[0] == pytest.approx(first.psnr, abs=1e-3)
    assert again.psnr_history.min() > first.psnr - 0.2  # lr warm-up: no Adam first-step jump


def test_cancel_callable_stops_early_with_a_partial_result(img64):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 5

    r = fit(img64, 16, steps=100, cancel=cancel)
    assert r.stopped == "cancelled" and r.steps_done == 5 and "cancelled" in r.message
    check_gaussians(r.tokens)


def test_cancel_event_set_before_the_start(img64):
    event = threading.Event()
    event.set()
    r = fit(img64, 16, steps=100, cancel=event)
    assert r.stopped == "cancelled" and r.steps_done == 0


def test_progress_is_reported_every_k_steps_and_at_the_end(img64):
    seen = []
    fit(img64, 16, steps=25, progress=lambda s, loss, p: seen.append((s, loss, p)), progress_every=10)
    assert [s for s, _, _ in seen] == [0, 10, 20, 25]
    assert all(np.isfinite(loss) and p > 0 for _, loss, p in seen)


def test_two_runs_are_identical(img64):
    a = fit(img64, 32, steps=20)
    b = fit(img64, 32, steps=20)
    assert np.array_equal(a.tokens, b.tokens)
    assert np.array_equal(a.psnr_history, b.psnr_history)


# --- NaN ---------------------------------------------------------------------------------------------


def test_huge_learning_rate_never_yields_invalid_tokens(img64):
    r = fit(img64, 16, steps=10, lr_geometry=1e9, lr_features=1e9)
    assert np.isfinite(r.tokens).all() and np.isfinite(r.psnr_history).all()
    check_gaussians(r.tokens)


def nan_render(monkeypatch, bad_calls):
    """Make the fit's render return NaN on the given calls, counted from the first optimisation step."""
    real = fit_module._splat
    calls, first = [], []

    def flaky(tokens, size, support, backend):
        calls.append(1)
        out = real(tokens, size, support, backend)
        return out * float("nan") if first and len(calls) - first[0] in bad_calls else out

    monkeypatch.setattr(fit_module, "_splat", flaky)
    return lambda step, loss, p: first.append(len(calls)) if step == 0 else None


def test_nan_from_the_render_is_recovered(img64, monkeypatch):
    progress = nan_render(monkeypatch, {5, 6})
    r = fit(img64, 16, steps=12, progress=progress)
    assert r.stopped == "done" and r.steps_done == 12
    assert np.isfinite(r.tokens).all() and np.isfinite(r.psnr_history).all()


def test_persistent_nan_stops_with_the_last_good_tokens(img64, monkeypatch):
    progress = nan_render(monkeypatch, set(range(8, 30)))
    r = fit(img64, 16, steps=30, max_recoveries=3, progress=progress)
    assert r.stopped == "nan" and "NaN" in r.message and r.steps_done == 7
    assert np.isfinite(r.tokens).all() and np.isfinite(r.psnr_history).all()
    check_gaussians(r.tokens)


def test_nan_during_the_colour_initialisation_keeps_finite_colours(img64, monkeypatch):
    real = fit_module._splat
    calls = []

    def flaky(tokens, size, support, backend):
        calls.append(1)
        out = real(tokens, size, support, backend)
        return out * float("nan") if len(calls) == 6 else out

    monkeypatch.setattr(fit_module, "_splat", flaky)
    r = fit(img64, 16, steps=3)
    assert np.isfinite(r.tokens).all() and np.isfinite(r.psnr_history).all()


# --- sizes, counts and layouts ---------------------------------------------------------------------


def test_tiny_8x8_image_fits_and_too_many_tokens_are_explained():
    img = small("coffee", 8)
    for init in ("grid", "adaptive"):
        r = fit(img, 4, init=init, steps=5)
        assert r.tokens.shape == (4, 8) and r.layout.canvas_size == (8, 8)
    with pytest.raises(GPSTokenError, match="tokens per tile must be in 1..1 .*min_size 8"):
        fit(img, 4, init="adaptive", min_size=8, steps=1)
    with pytest.raises(GPSTokenError, match="tokens per tile"):
        fit(img, 17, init="adaptive", steps=1)
    with pytest.raises(GPSTokenError, match="do not fit"):
        fit(img, 17, init="grid", steps=1)


@pytest.mark.parametrize("count,expected", [(128, 8), (512, 8), (513, 4), (2048, 4), (2049, 2), (4096, 2),
                                            (16384, 2), (16385, 1)])
def test_automatic_min_size_keeps_8_while_the_tile_holds_twice_the_count(count, expected):
    assert auto_min_size((256, 256), count) == expected


@pytest.mark.parametrize("count", [0, -3, 2.5])
def test_bad_token_counts_are_refused(img64, count):
    with pytest.raises(GPSTokenError, match="token count|tokens per tile"):
        fit(img64, count, steps=1)


def test_bad_inputs_are_one_line_errors(img64):
    with pytest.raises(GPSTokenError, match="uint8"):
        fit(img64.astype(np.float32), 8)
    with pytest.raises(GPSTokenError, match="weight map"):
        fit(img64, 8, weight=np.ones((3, 3)))
    with pytest.raises(GPSTokenError, match="locked"):
        fit(img64, 8, locked=np.ones(7, bool))
    with pytest.raises(GPSTokenError, match="freeze"):
        fit(img64, 8, freeze="colours")
    with pytest.raises(GPSTokenError, match="lr_geometry"):
        fit(img64, 8, lr_geometry=float("nan"))
    with pytest.raises(GPSTokenError, match="init"):
        fit(img64, 8, init="spiral")
    with pytest.raises(TypeError, match="stepz"):
        fit(img64, 8, stepz=3)


def test_non_square_one_tile_image_is_normalised_to_itself():
    img = small("chelsea", 96)[:64]  # 64 x 96
    r = fit(img, 24, steps=5)
    assert r.layout.tile == 0 and r.layout.canvas_size == (64, 96)
    ts = r.to_token_set()
    assert ts.tile == 0 and ts.image_size == (64, 96) and ts.tokens.shape == (1, 24, 8)


def test_tiled_image_fits_one_merged_set_and_saves_per_tile(tmp_path):
    img = cv2.resize(load_image(GOLDEN / "rocket512.png"), (300, 200), interpolation=cv2.INTER_AREA)
    r = fit(img, 8, init="grid", steps=3)
    assert r.layout.tile_grid == (1, 2) and r.layout.canvas_size == (256, 512)
    assert r.recon_uint8.shape == (200, 300, 3) and r.tokens.shape == (16, 8)
    ts = r.to_token_set()
    assert ts.tile == 256 and ts.tokens.shape == (2, 8, 8)
    np.testing.assert_allclose(merge_tiles(ts.tokens, ts.tile_grid)[0], r.tokens, atol=1e-6)
    ts.save(tmp_path / "t.npz")
    again = layout_from_token_set(TokenSet.load(tmp_path / "t.npz"), (200, 300))
    assert np.array_equal(again.regions, r.regions)


@pytest.mark.parametrize("size,n", [((256, 256), 1), ((256, 256), 7), ((256, 256), 128), ((256, 256), 4096),
                                    ((64, 96), 24), ((200, 120), 50)])
def test_grid_layout_has_exactly_n_disjoint_cells_covering_the_tile(size, n):
    layout = grid_layout(size, n)
    r = layout.regions
    assert r.shape == (n, 4)
    cover = np.zeros(layout.canvas_size, np.int32)
    for x0, y0, x1, y1 in r:
        assert x1 - x0 >= 1 and y1 - y0 >= 1
        cover[y0:y1 + 1, x0:x1 + 1] += 1
    assert (cover == 1).all()
    check_gaussians(layout.g_init)


def test_tiling_rule():
    def rule(size, tile):
        t = fit_tiling(size, tile)
        return t.tile, t.tile_grid

    assert rule((256, 256), 256) == (256, (1, 1))
    assert rule((64, 96), 256) == (0, (1, 1))
    assert rule((200, 300), 256) == (256, (1, 2))
    assert rule((600, 300), 0) == (0, (1, 1))


# --- token files and the command line ----------------------------------------------------------------


def test_saved_token_file_loads_with_rgb_features(img64, tmp_path):
    r = fit(img64, 16, steps=5)
    r.to_token_set().save(tmp_path / "fit.npz")
    ts = TokenSet.load(tmp_path / "fit.npz")
    assert ts.features == "rgb" and ts.tokens.shape == (1, 16, 8) and ts.image_size == (64, 64)
    np.testing.assert_array_equal(ts.tokens[0], r.tokens)
    np.testing.assert_array_equal(ts.g_init[0], r.g_init)


def test_gpstoken_fit_is_callable_from_the_package(img64):
    r = gpstoken.fit(img64, 8, options=FitOptions(steps=2))
    assert r.steps_done == 2


def test_cli_writes_reconstruction_tokens_and_metrics(img64, tmp_path, capsys):
    save_image(tmp_path / "in.png", img64)
    args = ["fit", str(tmp_path / "in.png"), "--tokens", "16", "--steps", "5", "--quiet",
            "--out", str(tmp_path / "r.png"), "--tokens-out", str(tmp_path / "t.npz"),
            "--json", str(tmp_path / "m.json")]
    assert main(args) == 0
    assert load_image(tmp_path / "r.png").shape == (64, 64, 3)
    assert TokenSet.load(tmp_path / "t.npz").features == "rgb"
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["psnr"] > 12 and 0 < report["ssim"] <= 1
    assert report["fit"]["steps"] == 5 and report["fit"]["tokens"] == 16
    # re-fit from the token file, grid init, and a clear error for a bad count
    assert main(["fit", str(tmp_path / "in.png"), "--init", str(tmp_path / "t.npz"), "--steps", "2", "--quiet",
                 "--out", str(tmp_path / "r2.png")]) == 0
    capsys.readouterr()
    assert main(["fit", str(tmp_path / "in.png"), "--tokens", "9", "--init", "grid", "--steps", "2", "--quiet",
                 "--out", str(tmp_path / "r3.png"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["fit"]["init"] == "grid"
    assert main(["fit", str(tmp_path / "in.png"), "--tokens", "5000", "--quiet", "--out", str(tmp_path / "x.png")]) == 2
    assert "tokens per tile" in capsys.readouterr().err


def test_torch_backend_fits_like_the_default_one(img64):
    """The torch renderer is the GPU path; on the CPU it must follow the same optimisation."""
    a = fit(img64, 16, steps=5)
    b = fit(img64, 16, steps=5, backend="torch")
    np.testing.assert_allclose(b.tokens, a.tokens, atol=1e-3)
    np.testing.assert_allclose(b.psnr_history, a.psnr_history, atol=1e-2)
