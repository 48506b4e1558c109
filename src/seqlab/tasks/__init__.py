"""Tasks: seeded generators of batches, one module per family; importing the package registers them.

Every module in this package is imported here (discovered, not listed), so adding a family is
adding a file. See :mod:`seqlab.tasks.base` for the batch format.
"""

from __future__ import annotations

import importlib
import pkgutil

from seqlab.tasks.base import Task, split_seed

__all__ = ["Task", "split_seed"]

for _mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")
