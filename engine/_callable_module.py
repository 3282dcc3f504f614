"""Keep ``gpstoken.<name>(...)`` callable when a submodule shares the name of its main function.

Importing ``gpstoken.partition`` (the module) rebinds the package attribute ``partition`` from the
function to the module; making the module callable keeps the documented call working either way.
"""
from __future__ import annotations

import sys
import types


def make_module_callable(module_name: str) -> None:
    """Make module ``a.b.name`` callable as its own function ``name``."""
    module = sys.modules[module_name]
    func_name = module_name.rsplit(".", 1)[-1]

    class _CallableModule(types.ModuleType):
        __doc__ = module.__doc__

        def __call__(self, *args, **kwargs):
            return getattr(self, func_name)(*args, **kwargs)

    module.__class__ = _CallableModule
