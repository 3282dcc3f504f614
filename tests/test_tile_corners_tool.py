"""benchmarks/tile_corners.py measures what the tile-corner test measures, with its own code."""
import sys
from pathlib import Path

import numpy as np
import pytest
from gpstoken.models.pipeline import reconstruct
from test_models_tile_corners import corner_and_centre_energy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import tile_corners as T  # noqa: E402


def test_flat_plane_detail_equals_the_tile_corner_tests_measure(bundled):
    recon = reconstruct(bundled, np.full((512, 512, 3), T.LEVEL, np.uint8), precision="fp32").image()
    corner, centre = corner_and_centre_energy(recon, 256)
    row = T.flat_plane_detail(bundled)
    assert row["corner"] == pytest.approx(corner, abs=0.01)
    assert row["limit"] == pytest.approx(2 * centre + 0.5, abs=0.01)
    assert row["max_error"] == int(np.abs(recon.astype(np.int16) - T.LEVEL).max())


def test_corner_token_ratios_and_border_response_of_a_replicate_padded_model(bundled):
    ratios, feature = T.corner_token_ratios(bundled)
    assert set(ratios) == {"TL", "TR", "BL", "BR"} and all(r > 0 for r in ratios.values())
    assert feature.shape == (bundled.config.gps_c,)
    # replicate padding: a constant map decodes to a constant image, so no border response at all
    assert T.decoder_border_response(bundled, feature) == {"TL": 0.0, "BR": 0.0}
