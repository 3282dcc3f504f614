"""Token layout, ellipse conversions and tile merging."""
import numpy as np
import pytest
import torch

from gpstoken import tokens as T
from gpstoken.errors import GPSTokenError


def random_gaussians(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = np.empty((n, 5))
    g[:, :2] = rng.uniform(0.005, 0.6, (n, 2))
    g[:, 2] = rng.uniform(-0.95, 0.95, n)
    g[:, 3:] = rng.uniform(-1, 1, (n, 2))
    return g


def test_g_init_matches_official_table_for_power_of_two_regions():
    sides = np.array([8, 16, 32, 64, 128, 256])
    regions = np.stack([np.zeros_like(sides), np.zeros_like(sides), sides - 1, sides - 1], axis=1)
    g = T.g_init_from_regions(regions)
    np.testing.assert_allclose(g[:, 0], [0.01823, 0.03906, 0.08073, 0.16406, 0.33073, 0.66406], atol=1e-5)
    np.testing.assert_array_equal(g[:, 0], g[:, 1])
    assert g[-1, 3] == 0 and g[-1, 4] == 0  # the whole tile is centred


def test_regions_normalise_and_back_exactly():
    rng = np.random.default_rng(1)
    x0, y0 = rng.integers(0, 200, (2, 50))
    regions = np.stack([x0, y0, x0 + rng.integers(0, 55, 50), y0 + rng.integers(0, 55, 50)], axis=1)
    norm = T.normalize_regions(regions)
    assert norm.dtype == np.float32 and np.abs(norm).max() <= 1
    np.testing.assert_array_equal(T.regions_to_pixels(norm), regions)


@pytest.mark.parametrize("size", [(256, 256), (120, 300)])
def test_gaussian_ellipse_round_trip_is_exact(size):
    g = random_gaussians(200)
    back = T.ellipses_to_gaussians(T.gaussians_to_ellipses(g, size), size)
    np.testing.assert_allclose(back, g, atol=1e-12)


def test_ellipse_axes_are_covariance_eigenvalues():
    g = random_gaussians(50, seed=2)
    e = T.gaussians_to_ellipses(g, (256, 256))
    sx, sy = g[:, 0] * 127.5, g[:, 1] * 127.5
    for (a, b, theta), x, y, r in zip(e[:, 2:], sx, sy, g[:, 2]):
        cov = np.array([[x * x, r * x * y], [r * x * y, y * y]])
        np.testing.assert_allclose(sorted(np.linalg.eigvalsh(cov)), [b * b, a * a], rtol=1e-9)
        major = np.array([np.cos(theta), np.sin(theta)])
        np.testing.assert_allclose(cov @ major, a * a * major, rtol=1e-7, atol=1e-9)
        assert a >= b and -np.pi / 2 <= theta < np.pi / 2


def test_ellipse_centre_is_corner_aligned_pixel():
    e = T.gaussians_to_ellipses(np.array([[0.1, 0.1, 0, -1, 1]]), (64, 32))
    assert e[0, 0] == 0 and e[0, 1] == 63


def test_ellipses_to_gaussians_clamps_degenerate_input():
    g = T.ellipses_to_gaussians(np.array([[10, 10, 5.0, 0.0, 0.3], [10, 10, 0.0, 0.0, 0.0]]), (64, 64))
    assert (g[:, :2] > 0).all() and (np.abs(g[:, 2]) < 1).all() and np.isfinite(g).all()


def test_clamp_keeps_sigma_positive_and_rho_inside():
    g = torch.tensor([[-1.0, 2.0, 1.5, 0.0, 0.0], [0.0, 0.5, -1.0, 3.0, 0.0]])
    c = T.clamp_gaussians(g)
    assert (c[:, :2] > 0).all() and (c[:, :2] < 1).all() and (c[:, 2].abs() < 1).all()
    assert c[1, 3] == 3.0  # means are left alone
    assert g[0, 0] == -1.0  # input untouched


@pytest.mark.parametrize("bad, message", [
    ([[0.1, 0.1, 0.0, 0.0, float("nan")]], "NaN"),
    ([[0.0, 0.1, 0.0, 0.0, 0.0]], "sigma"),
    ([[0.1, 0.1, 1.0, 0.0, 0.0]], "rho"),
    ([[0.1, 0.1, 0.0, 0.0]], "channels"),
])
def test_check_gaussians_rejects_invalid_values_with_one_line(bad, message):
    with pytest.raises(GPSTokenError, match=message) as info:
        T.check_gaussians(np.array(bad))
    assert "\n" not in str(info.value)


def test_merge_tiles_matches_official_formula_for_one_image():
    rng = np.random.default_rng(3)
    tok = rng.uniform(-0.9, 0.9, (4, 6, 7)).astype(np.float32)
    tok[..., :2] = np.abs(tok[..., :2])
    merged = T.merge_tiles(tok, (2, 2))[0].reshape(4, 6, 7)
    for k in range(4):
        i, j = divmod(k, 2)
        np.testing.assert_allclose(merged[k, :, 0], tok[k, :, 0] / 2, rtol=1e-6)
        np.testing.assert_allclose(merged[k, :, 3], -1 + (2 * j + tok[k, :, 3] + 1) / 2, rtol=1e-6)
        np.testing.assert_allclose(merged[k, :, 4], -1 + (2 * i + tok[k, :, 4] + 1) / 2, rtol=1e-6)
        np.testing.assert_array_equal(merged[k, :, 5:], tok[k, :, 5:])


def test_merge_tiles_assigns_tiles_per_image_in_batches():
    """The official code mixes up tiles for batch > 1; we take tile k mod T for item k."""
    tok = torch.rand(2 * 6, 3, 8) * 0.5 + 0.1
    merged = T.merge_tiles(tok, (2, 3))
    for b in range(2):
        np.testing.assert_allclose(merged[b], T.merge_tiles(tok[b * 6:(b + 1) * 6], (2, 3))[0])


def test_split_inverts_merge_for_non_square_grids():
    tok = torch.rand(3 * 8, 5, 9, dtype=torch.float64) * 0.8 + 0.1
    back = T.split_tiles(T.merge_tiles(tok, (2, 4)), (2, 4))
    torch.testing.assert_close(back, tok)


def test_merge_rejects_incomplete_tile_sets():
    with pytest.raises(GPSTokenError, match="tiles"):
        T.merge_tiles(np.zeros((3, 4, 6), np.float32), (2, 2))
