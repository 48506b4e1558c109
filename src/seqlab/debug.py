"""A process-wide switch for expensive value checks (NaN/inf, token ranges, per-layer states).

Cheap checks (shapes, dtypes, structure) always run. Checks that read tensor values force a
device synchronisation on a GPU, so they run once at the model boundary by default and at every
layer only when debugging::

    import seqlab.debug
    with seqlab.debug.checks():          # or SEQLAB_DEBUG_CHECKS=1 in the environment
        model(tokens)
"""

from __future__ import annotations

import os
from contextlib import contextmanager

_enabled = os.environ.get("SEQLAB_DEBUG_CHECKS", "") not in ("", "0", "false", "False")


def enabled() -> bool:
    """True when per-layer value checks are on."""
    return _enabled


def set_enabled(flag: bool) -> None:
    global _enabled
    _enabled = bool(flag)


@contextmanager
def checks(flag: bool = True):
    """Turn per-layer value checks on (or off) inside a ``with`` block."""
    global _enabled
    old, _enabled = _enabled, bool(flag)
    try:
        yield
    finally:
        _enabled = old
