"""Load Triton's LLVM before any GL context exists.

Triton's native library and Mesa's software GL driver (llvmpipe) each carry their own LLVM. When
libtriton is loaded after a GL context is up, it segfaults on load; torch loads it on its own (the first
optimizer a fit builds imports torch._dynamo, which imports triton when installed). Loaded first, both
coexist. Without Triton installed this does nothing.
"""
from __future__ import annotations

import importlib.util


def preload_triton() -> None:
    """Import Triton's native library now if Triton is installed (before the first GL context)."""
    if importlib.util.find_spec("triton") is None:
        return
    try:
        import triton._C.libtriton  # noqa: F401
    except ImportError:  # a broken install: torch skips Triton then as well
        pass
