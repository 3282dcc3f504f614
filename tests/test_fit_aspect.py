"""The fit's soft bound on anisotropy (FitOptions.max_aspect): the penalty's values and its effect on a fit."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from gpstoken.errors import GPSTokenError
from gpstoken.fit import aspect_excess, fit
from gpstoken.io.images import load_image
from gpstoken.tokens import RHO, SX, SY

torch.set_num_threads(1)
GOLDEN = Path(__file__).parent / "golden"


def axis_ratio(g: np.ndarray) -> np.ndarray:
    a, c, b = g[:, SX] ** 2, g[:, SY] ** 2, g[:, RHO] * g[:, SX] * g[:, SY]
    d = np.sqrt(((a - c) / 2) ** 2 + b ** 2)
    return np.sqrt(((a + c) / 2 + d) / ((a + c) / 2 - d))


def test_the_penalty_is_zero_within_the_bound_and_log_ratio_squared_beyond():
    g = torch.tensor([[0.1, 0.1, 0.0, 0, 0],  # a circle
                      [0.39, 0.1, 0.0, 0, 0],  # ratio 3.9: within the bound
                      [0.8, 0.1, 0.0, 0, 0],  # ratio 8: log(2) beyond it
                      [0.1, 0.1, 0.6, 0, 0]])  # rotated: ratio sqrt(1.6 / 0.4) = 2
    assert float(aspect_excess(g, 4.0)) == pytest.approx(math.log(2) ** 2 / 4, rel=1e-5)
    assert axis_ratio(g.numpy())[3] == pytest.approx(2.0, rel=1e-5)
    grad = torch.autograd.grad(aspect_excess(g.requires_grad_(True), 4.0), g)[0]
    assert torch.isfinite(grad).all() and grad[:2].abs().max() == 0


def test_a_fit_with_the_bound_keeps_thin_gaussians_shorter_at_about_the_same_psnr():
    image = load_image(GOLDEN / "astronaut.png")[64:192, 64:192]
    free = fit(image, 64, steps=60)  # unbounded by default
    bounded = fit(image, 64, steps=60, max_aspect=6)
    assert axis_ratio(bounded.tokens).max() < axis_ratio(free.tokens).max()
    assert bounded.psnr > free.psnr - 0.3


def test_bad_bounds_are_one_line_errors():
    with pytest.raises(GPSTokenError, match="max_aspect"):
        fit(np.zeros((8, 8, 3), np.uint8), 4, max_aspect=0.5)
