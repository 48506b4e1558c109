"""Timing helpers shared by every speed measurement: warm-up per cell, repeats, median and spread.

A *cell* (one function at one size) is timed as follows:

1. **Warm-up until steady.** ``fn`` runs at least ``warmup`` times, and keeps running (up to
   ``max_warmup``) while the last warm-up run differs from the one before it by more than
   ``settle`` (relative). A cell's first calls pay for allocator growth, lazily built buffers and
   thread-pool start-up; a fixed single warm-up let the first length of each mixer carry that cost
   (samba 2620 ms at L=256 but 698 ms at L=1024 on a 2-core CPU).
2. **Repeats.** ``repeats`` timed runs; while their spread is too wide, more runs are added up to
   ``max_repeats`` or until the cell's time budget is spent. Every run is kept and reported.
3. **Median and spread.** The cell's time is the median ``m`` of its runs; its spread is the
   interquartile range over the median, ``(Q3 - Q1) / m`` (quartiles by linear interpolation
   between order statistics). With fewer than ``MIN_RUNS`` runs the spread is not defined.
4. **Flag.** A cell whose spread exceeds ``max_spread`` (or that has too few runs to measure a
   spread) is *unreliable*: tables print it with a mark and JSON carries ``unreliable: true`` with
   the reason. A check that compares unreliable cells reports ``"unreliable"``, never PASS/FAIL
   (:func:`verdict`).

Every function takes ``clock`` (seconds, monotonic) and ``sync`` (called after each run, e.g.
``torch.cuda.synchronize``) so the statistics can be tested with a fake clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MIN_RUNS = 3
MAX_SPREAD = 0.25
SETTLE = 0.2

Clock = Callable[[], float]


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence (mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("median needs at least one value")
    xs = sorted(values)
    n, mid = len(xs), len(xs) // 2
    return xs[mid] if n % 2 else 0.5 * (xs[mid - 1] + xs[mid])


def quantile(values: Sequence[float], q: float) -> float:
    """``q``-quantile by linear interpolation between order statistics (position ``q (n - 1)``)."""
    if not values:
        raise ValueError("quantile needs at least one value")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (pos - lo) * (xs[hi] - xs[lo])


def spread(values: Sequence[float]) -> float | None:
    """Interquartile range over the median; None with fewer than :data:`MIN_RUNS` values."""
    if len(values) < MIN_RUNS:
        return None
    m = median(values)
    iqr = quantile(values, 0.75) - quantile(values, 0.25)
    return iqr / m if m > 0 else math.inf


@dataclass(frozen=True)
class Timing:
    """The timed runs of one cell (seconds) and what they say."""

    runs: tuple[float, ...]
    warmup_runs: int
    median: float
    spread: float | None
    unreliable: bool
    reason: str | None = None

    def as_dict(self) -> dict:
        """JSON-able form in milliseconds."""
        return {
            "median_ms": self.median * 1e3,
            "spread": self.spread,
            "runs_ms": [r * 1e3 for r in self.runs],
            "warmup_runs": self.warmup_runs,
            "unreliable": self.unreliable,
            "reason": self.reason,
        }


def summarize(runs: Sequence[float], warmup_runs: int = 0, max_spread: float = MAX_SPREAD) -> Timing:
    """Median, spread and the unreliable flag of ``runs`` (seconds)."""
    if not runs:
        raise ValueError("summarize needs at least one timed run")
    if any(r < 0 or not math.isfinite(r) for r in runs):
        raise ValueError(f"run times must be finite and >= 0, got {list(runs)}")
    if max_spread <= 0:
        raise ValueError(f"max_spread must be > 0, got {max_spread}")
    s = spread(runs)
    reason = None
    if s is None:
        reason = f"only {len(runs)} run(s); a spread needs >= {MIN_RUNS}"
    elif s > max_spread:
        reason = f"spread (IQR/median) {s:.2f} > {max_spread:g}"
    return Timing(tuple(runs), warmup_runs, median(runs), s, reason is not None, reason)


def _once(fn: Callable[[], object], clock: Clock, sync: Callable[[], None] | None) -> float:
    if sync is not None:
        sync()
    t0 = clock()
    fn()
    if sync is not None:
        sync()
    return clock() - t0


def _check_counts(warmup: int, max_warmup: int, repeats: int, max_repeats: int) -> None:
    if warmup < 0 or max_warmup < warmup:
        raise ValueError(f"need 0 <= warmup <= max_warmup, got warmup={warmup}, max_warmup={max_warmup}")
    if repeats < 1 or max_repeats < repeats:
        raise ValueError(
            f"need 1 <= repeats <= max_repeats, got repeats={repeats}, max_repeats={max_repeats}"
        )


def warm_up(
    fn: Callable[[], object],
    warmup: int = 1,
    max_warmup: int = 5,
    settle: float = SETTLE,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
    budget_s: float | None = None,
) -> int:
    """Run ``fn`` ``warmup`` times, then on while the last two runs differ by more than ``settle``
    (relative to the smaller), up to ``max_warmup`` runs or ``budget_s`` seconds; returns the count."""
    _check_counts(warmup, max_warmup, 1, 1)
    if warmup == 0:
        return 0
    times: list[float] = []
    while len(times) < max_warmup:
        if len(times) >= warmup:
            settled = len(times) >= 2 and abs(times[-1] - times[-2]) <= settle * min(times[-1], times[-2])
            if settled or (budget_s is not None and sum(times) >= budget_s):
                break
        times.append(_once(fn, clock, sync))
    return len(times)


def time_cell(
    fn: Callable[[], object],
    *,
    warmup: int = 1,
    max_warmup: int = 5,
    repeats: int = 5,
    max_repeats: int | None = None,
    max_spread: float = MAX_SPREAD,
    budget_s: float | None = None,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
) -> Timing:
    """Warm ``fn`` up (:func:`warm_up`), time ``repeats`` runs, add runs while the spread is above
    ``max_spread`` (up to ``max_repeats``, default ``2 * repeats``, within ``budget_s`` seconds of
    timed runs), and summarize them."""
    max_repeats = 2 * repeats if max_repeats is None else max_repeats
    _check_counts(warmup, max_warmup, repeats, max_repeats)
    n_warm = warm_up(fn, warmup, max_warmup, clock=clock, sync=sync, budget_s=budget_s)
    runs = [_once(fn, clock, sync) for _ in range(repeats)]
    while len(runs) < max_repeats and (budget_s is None or sum(runs) < budget_s):
        s = spread(runs)
        if s is not None and s <= max_spread:
            break
        runs.append(_once(fn, clock, sync))
    return summarize(runs, n_warm, max_spread)


def time_pair(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    *,
    warmup: int = 1,
    repeats: int = 7,
    max_spread: float = MAX_SPREAD,
    clock: Clock = time.perf_counter,
    sync: Callable[[], None] | None = None,
) -> tuple[Timing, Timing]:
    """Two functions timed in alternation (a, b, a, b, ...) after ``warmup`` rounds of both, so a
    ratio of the two is not skewed by load drifting between two separate series."""
    _check_counts(warmup, warmup, repeats, repeats)
    for _ in range(warmup):
        fn_a()
        fn_b()
    runs_a, runs_b = [], []
    for _ in range(repeats):
        runs_a.append(_once(fn_a, clock, sync))
        runs_b.append(_once(fn_b, clock, sync))
    return summarize(runs_a, warmup, max_spread), summarize(runs_b, warmup, max_spread)


def verdict(passed: bool | None, *timings: Timing | dict | None) -> str:
    """``"n/a"`` when nothing was decided, ``"unreliable"`` when any timing it rests on is flagged
    (a :class:`Timing` or its :meth:`~Timing.as_dict`), else ``"PASS"`` / ``"FAIL"``."""
    if passed is None:
        return "n/a"
    for t in timings:
        flagged = t.get("unreliable") if isinstance(t, dict) else getattr(t, "unreliable", False)
        if flagged:
            return "unreliable"
    return "PASS" if passed else "FAIL"
