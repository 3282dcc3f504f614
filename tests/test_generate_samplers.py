"""Samplers on an analytic velocity field: Gaussian data N(m, s^2), whose flow is known exactly.

On the linear path from N(0,1) noise, x_t = t*m + sqrt(t^2 s^2 + (1-t)^2) * x0 solves the ODE, so
the endpoint of noise x0 is m + s*x0 and the velocity is m + (t s^2 - (1-t)) / var_t * (x - t m).
"""
import pytest
import torch

from gpstoken.errors import Cancelled, GPSTokenError
from gpstoken.generate import samplers
from gpstoken.generate.inpaint import KeepTokens
from gpstoken.generate.transport import interpolate, score_from_velocity, sde_diffusion, velocity_loss

torch.set_num_threads(1)
M, S = 1.5, 0.5


def velocity(x, t):
    t = t.reshape(-1, *[1] * (x.dim() - 1)).to(x)
    var = t * t * S * S + (1 - t) ** 2
    return M + (t * S * S - (1 - t)) / var * (x - t * M)


@pytest.fixture()
def noise():
    return torch.randn(512, 8, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_ode_endpoints_match_the_closed_form(noise):
    exact = M + S * noise
    out = samplers.sample(velocity, noise, "ode", atol=1e-9, rtol=1e-7)
    assert (out - exact).abs().max() < 1e-5


def test_heun_is_more_accurate_than_euler_at_equal_steps(noise):
    exact = M + S * noise
    for steps in (5, 20):
        e_euler = (samplers.sample(velocity, noise, "euler", steps) - exact).abs().max()
        e_heun = (samplers.sample(velocity, noise, "heun", steps) - exact).abs().max()
        assert e_heun < e_euler / 5
    # first vs second order: 4x the steps cut Euler's error ~4x and Heun's ~16x
    e10 = (samplers.sample(velocity, noise, "heun", 10) - exact).abs().max()
    e40 = (samplers.sample(velocity, noise, "heun", 40) - exact).abs().max()
    assert 8 < float(e10 / e40) < 32


def test_adaptive_solver_meets_its_tolerance_and_adapts_its_work(noise):
    exact = M + S * noise
    scale = float((exact.abs().max()))
    calls = []

    def counted(x, t):
        calls.append(1)
        return velocity(x, t)

    work = []
    for atol, rtol in ((1e-6, 1e-3), (1e-8, 1e-5), (1e-10, 1e-7)):
        calls.clear()
        err = float((samplers.sample(counted, noise, "ode", atol=atol, rtol=rtol) - exact).abs().max())
        assert err < 20 * (atol + rtol * scale)  # global error vs the per-step tolerance
        work.append(len(calls))
    assert work[0] < work[1] < work[2]


def test_sde_final_distribution_matches_the_data():
    noise = torch.randn(20000, 4, generator=torch.Generator().manual_seed(1))
    out = samplers.sample(velocity, noise, "sde", 100, generator=torch.Generator().manual_seed(2))
    assert abs(float(out.mean()) - M) < 0.02
    assert abs(float(out.std()) - S) < 0.02


def test_sde_calls_the_model_once_per_grid_point_and_ends_at_t_1():
    times = []

    def record(x, t):
        times.append(float(t[0]))
        return velocity(x, t)

    samplers.sample(record, torch.zeros(2, 3), "sde", 10, generator=torch.Generator().manual_seed(0))
    assert len(times) == 10
    assert times[0] == pytest.approx(1e-3) and times[-2] == pytest.approx(0.96 - (0.96 - 1e-3) / 9)
    assert times[-1] == pytest.approx(0.96)  # the final deterministic mean step of 0.04 starts here


def test_transport_formulas():
    x0, x1, t = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0.0, 0.25, 0.5, 1.0])
    xt, ut = interpolate(x0, x1, t)
    torch.testing.assert_close(xt[0], x0[0])
    torch.testing.assert_close(xt[3], x1[3])
    torch.testing.assert_close(ut, x1 - x0)
    tt = torch.tensor([0.5])
    assert float(sde_diffusion(tt)) == pytest.approx(0.25 / 0.5 + 0.5)
    # the Gaussian's exact score is -(x - t m) / var_t
    x = torch.tensor([[0.3]])
    var = 0.25 * S * S + 0.25
    assert float(score_from_velocity(velocity(x, tt), x, tt)) == pytest.approx(-(0.3 - 0.5 * M) / var, rel=1e-5)
    # the exact velocity field has the smallest loss: the path's conditional mean
    data = M + S * torch.randn(4096, 2, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(4)
    best = velocity_loss(velocity, data, generator=g)
    g = torch.Generator().manual_seed(4)
    worse = velocity_loss(lambda x, t: 1.1 * velocity(x, t), data, generator=g)
    assert best < worse


def test_progress_callback_and_cancel(noise):
    seen = []
    samplers.sample(velocity, noise, "euler", 7, callback=lambda step, x: seen.append((step, x.shape)))
    assert [s for s, _ in seen] == list(range(1, 8)) and seen[-1][1] == noise.shape
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1

    for method in samplers.METHODS:
        calls.clear()
        with pytest.raises(Cancelled):
            samplers.sample(velocity, noise, method, 10, cancel=cancel)


def test_bad_sampler_arguments_are_one_line_errors(noise):
    with pytest.raises(GPSTokenError, match="sampler must be one of"):
        samplers.sample(velocity, noise, "rk4")
    with pytest.raises(GPSTokenError, match="steps must be an integer"):
        samplers.sample(velocity, noise, "euler", 0)
    with pytest.raises(GPSTokenError, match="tolerances"):
        samplers.sample(velocity, noise, "ode", atol=0)


@pytest.mark.parametrize("method", samplers.METHODS)
def test_kept_tokens_follow_their_path_and_end_exactly(method):
    noise = torch.randn(3, 10, 4, generator=torch.Generator().manual_seed(5))
    known = torch.randn(3, 10, 4, generator=torch.Generator().manual_seed(6))
    mask = torch.zeros(3, 10, dtype=torch.bool)
    mask[:, ::3] = True
    keep = KeepTokens(known, mask, noise)
    seen = []

    def spy(x, t):
        tt = float(t[0])
        seen.append(float((x - (tt * known + (1 - tt) * noise))[mask].abs().max()))
        return velocity(x, t)

    out = samplers.sample(keep.velocity(spy), noise, method, 12, generator=torch.Generator().manual_seed(7),
                          project=keep.project)
    assert torch.equal(out[mask], known[mask])
    assert max(seen[1:]) < 1e-5  # the model always sees the kept tokens on their noising path
    assert not torch.allclose(out[~mask], known[~mask])
