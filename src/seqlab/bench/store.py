"""Moved: the results store is :mod:`seqlab.experiments.store` (this name stays for old imports)."""

from seqlab.experiments.store import ResultStore, StoreError

__all__ = ["ResultStore", "StoreError"]
