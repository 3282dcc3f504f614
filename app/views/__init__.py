"""vispy views: each owns one visual, listens to the document, and never writes it."""
from .llvm_preload import preload_triton

preload_triton()  # before any canvas creates a GL context: see llvm_preload
