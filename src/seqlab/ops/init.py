"""Random initialisation helpers shared by the state-space mixers (S4, S4D, LSSL, LRU, S5, CKConv).

``make_generator(seed)``: a seeded CPU generator, so a mixer built with ``seed=`` is reproducible
without touching the global RNG. ``log_uniform(n, lo, hi)``: ``log(dt)`` with ``dt`` log-uniform in
``[lo, hi]``, the step initialisation of S4 ("Efficiently Modeling Long Sequences with Structured
State Spaces", arXiv 2111.00396) and S5 (arXiv 2208.04933).
"""

from __future__ import annotations

import math

import torch


def make_generator(seed: int | None) -> torch.Generator | None:
    """A seeded CPU generator, or ``None`` (the global RNG) when ``seed`` is ``None``."""
    return None if seed is None else torch.Generator().manual_seed(seed)


def log_uniform(n: int, lo: float, hi: float, gen: torch.Generator | None) -> torch.Tensor:
    """``n`` values of ``log(dt)`` with ``dt`` log-uniform in ``[lo, hi]``."""
    if not 0 < lo <= hi:
        raise ValueError(f"expected 0 < dt_min <= dt_max, got dt_min={lo}, dt_max={hi}")
    return math.log(lo) + torch.rand(n, generator=gen) * (math.log(hi) - math.log(lo))
