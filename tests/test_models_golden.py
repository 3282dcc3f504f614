"""The tokenizer reproduces the reference implementation on the official-format tiny model."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gpstoken.models import load_tokenizer, reconstruct
from gpstoken.models.tiling import to_tiles

GOLDEN = Path(__file__).parent / "golden"
TOKENS_ATOL = 2e-3
RECON_ATOL = 5e-3


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_tokenizer(GOLDEN / "official_tiny_a.safetensors", config=GOLDEN / "official_tiny_a.yaml")


def fixture(name: str) -> dict:
    with np.load(GOLDEN / f"official_tiny_a__{name}.npz") as z:
        return {k: z[k] for k in z.files}


def image(name: str) -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / f"{name}.png").convert("RGB"))


def tiles(name: str, grid: tuple[int, int]) -> torch.Tensor:
    x = torch.from_numpy(image(name).astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    return to_tiles(x, grid)


def test_astronaut_tokens_from_image_and_layout(model):
    d = fixture("astronaut")
    g_init, regions = torch.from_numpy(d["g_init"]), torch.from_numpy(d["regions"])
    with torch.inference_mode():
        tokens = model.encode(tiles("astronaut", (1, 1)), g_init, regions).numpy()
    np.testing.assert_allclose(tokens, d["tokens"], atol=TOKENS_ATOL, rtol=0)
    assert np.abs(tokens[..., :5] - d["g_init"]).max() > 0.1  # the geometry really was refined
    np.testing.assert_array_equal(g_init.numpy(), d["g_init"])  # inputs untouched
    np.testing.assert_array_equal(regions.numpy(), d["regions"])


def test_astronaut_recon_from_features(model):
    d = fixture("astronaut")
    with torch.inference_mode():
        recon = model.decode_features(torch.from_numpy(d["features"])[None])[0].numpy()
    np.testing.assert_allclose(recon, d["recon"], atol=RECON_ATOL, rtol=0)


def test_astronaut_end_to_end_with_partition_and_renderer(model):
    d = fixture("astronaut")
    result = reconstruct(model, image("astronaut"))
    assert result.mode == "merged" and result.partition.tile_grid == (1, 1)
    np.testing.assert_array_equal(result.partition.g_init.reshape(d["g_init"].shape), d["g_init"])
    np.testing.assert_allclose(result.tokens, d["tokens"], atol=TOKENS_ATOL, rtol=0)
    np.testing.assert_allclose(result.recon, d["recon"], atol=RECON_ATOL, rtol=0)
    assert result.image().shape == (256, 256, 3)


def test_rocket512_tiles_encoded_separately(model):
    d = fixture("rocket512")
    with torch.inference_mode():
        tokens = model.encode(tiles("rocket512", (2, 2)), torch.from_numpy(d["g_init"]),
                              torch.from_numpy(d["regions"])).numpy()
    np.testing.assert_allclose(tokens, d["tokens"], atol=TOKENS_ATOL, rtol=0)


def test_rocket512_merged_render_and_tiled_decode(model):
    d = fixture("rocket512")
    with torch.inference_mode():
        features = model.render(torch.from_numpy(d["tokens"]), (2, 2))[0].numpy()
        recon = model.decode(torch.from_numpy(d["tokens"]), (2, 2), mode="merged")[0].numpy()
    np.testing.assert_allclose(features, d["features"], atol=RECON_ATOL, rtol=0)
    np.testing.assert_allclose(recon, d["recon"], atol=RECON_ATOL, rtol=0)
