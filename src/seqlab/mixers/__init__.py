"""Sequence mixers, one module per family; importing the package registers them all.

Every module in this package is imported here (discovered, not listed), so adding a family is
adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil

from seqlab.mixers.base import ALL_MODES, Mixer, reset_state

__all__ = ["ALL_MODES", "Mixer", "reset_state"]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
