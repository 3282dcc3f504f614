"""``gpstoken render``: token file in, the reference feature map out."""
from pathlib import Path

import numpy as np
import pytest

from gpstoken.cli import main
from gpstoken.io.tokenfile import TokenSet

GOLDEN = Path(__file__).parent / "golden"


def golden_token_file(tmp_path, name: str, grid: tuple[int, int], size: int) -> Path:
    z = np.load(GOLDEN / f"official_tiny_a__{name}.npz")
    path = tmp_path / f"{name}.npz"
    TokenSet(z["g_init"], z["regions"], grid, (size, size), tokens=z["tokens"]).save(path)
    return path


@pytest.mark.parametrize("name, grid, size", [("astronaut", (1, 1), 256), ("rocket512", (2, 2), 512)])
def test_render_reproduces_reference_features(tmp_path, name, grid, size):
    out = tmp_path / "f.npy"
    assert main(["render", str(golden_token_file(tmp_path, name, grid, size)), "--out", str(out)]) == 0
    features = np.load(out)
    expected = np.load(GOLDEN / f"official_tiny_a__{name}.npz")["features"]
    assert features.dtype == np.float32 and features.shape == expected.shape
    assert np.abs(features - expected).max() < 5e-3


def test_render_grid_option_sets_the_output_size(tmp_path):
    out = tmp_path / "f.npy"
    assert main(["render", str(golden_token_file(tmp_path, "astronaut", (1, 1), 256)), "--out", str(out),
                 "--grid", "32", "48"]) == 0
    assert np.load(out).shape[1:] == (32, 48)


def test_render_refuses_layout_only_files_with_one_line(tmp_path, capsys):
    z = np.load(GOLDEN / "official_tiny_a__astronaut.npz")
    TokenSet(z["g_init"], z["regions"], (1, 1), (256, 256)).save(tmp_path / "init.npz")
    assert main(["render", str(tmp_path / "init.npz"), "--out", str(tmp_path / "f.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no 'tokens'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "f.npy").exists()
