"""Load Triton's native library before the first GL context.

Triton links its own LLVM; loaded after Mesa's software GL (llvmpipe, which links LLVM too) it crashes the
process (segfault in ``triton._C.libtriton``). torch imports triton lazily, e.g. on the first ``torch.optim.Adam``,
which in the editor happens on the worker thread after the canvas exists. Loaded first, both work.
"""
from __future__ import annotations

import importlib.util


def preload_triton() -> bool:
    """Import triton now when it is installed (a no-op otherwise); True when it is loaded."""
    if importlib.util.find_spec("triton") is None:
        return False
    try:
        import triton  # noqa: F401
    except Exception:  # a broken triton install must not stop the editor; torch then sees the same error
        return False
    return True
