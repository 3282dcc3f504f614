"""Shared by the renderer tests: one torch thread, random token sets and their rendered maps and gradients."""
from __future__ import annotations

import pytest
import torch

from gpstoken.render import render


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test of a module that imports this fixture with one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_tokens(b: int, n: int, c: int, seed: int, dtype=torch.float64, sigma_min: float = 0.02,
                  sigma_span: float = 0.35, rho: float = 0.97) -> torch.Tensor:
    """Tokens with small and large boxes (sigma from ``sigma_min`` over ``sigma_span``), some partly off the map,
    |rho| up to ``rho`` (0.97 reaches both numba paths)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.empty(b, n, 5 + c, dtype=torch.float64)
    t[..., 0:2] = torch.rand(b, n, 2, generator=g, dtype=torch.float64) * sigma_span + sigma_min
    t[..., 2] = torch.rand(b, n, generator=g, dtype=torch.float64) * 2 * rho - rho
    t[..., 3:5] = torch.rand(b, n, 2, generator=g, dtype=torch.float64) * 2.6 - 1.3
    t[..., 5:] = torch.randn(b, n, c, generator=g, dtype=torch.float64)
    return t.to(dtype)


def map_and_grad(tokens: torch.Tensor, size, backend: str, upstream: torch.Tensor, device: str = "cpu"):
    """Rendered map and token gradient (both on the CPU) for a fixed upstream gradient."""
    t = tokens.detach().clone().to(device).requires_grad_(True)
    out = render(t, size, backend=backend)
    out.backward(upstream.to(device=device, dtype=out.dtype))
    return out.detach().cpu(), t.grad.cpu()
