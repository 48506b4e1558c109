import pytest

from seqlab.experiments import timing
from seqlab.experiments.timing import (
    Timing,
    median,
    quantile,
    spread,
    summarize,
    time_cell,
    time_pair,
    verdict,
)


class FakeClock:
    """A clock that advances only when the timed function "works" for a scripted duration."""

    def __init__(self, durations):
        self.now, self.durations, self.calls = 0.0, list(durations), 0

    def __call__(self):
        return self.now

    def work(self):
        self.now += self.durations[self.calls]
        self.calls += 1


def test_median_quantile_and_spread():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.25) == 2.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.75) == pytest.approx(3.25)
    # IQR / median: quartiles 2 and 4, median 3
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)
    assert spread([1.0, 1.0]) is None
    with pytest.raises(ValueError, match="at least one"):
        median([])
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        quantile([1.0], 1.5)


def test_summarize_flags_a_wide_spread_and_too_few_runs():
    steady = summarize([1.0, 1.01, 0.99, 1.0, 1.02])
    assert not steady.unreliable and steady.reason is None and steady.median == 1.0
    noisy = summarize([1.0, 2.0, 1.0, 2.0, 1.5])
    assert noisy.unreliable and "spread" in noisy.reason and noisy.spread == pytest.approx(1.0 / 1.5)
    few = summarize([1.0, 1.0])
    assert few.unreliable and few.spread is None and "only 2 run(s)" in few.reason
    d = steady.as_dict()
    assert d["median_ms"] == pytest.approx(1000.0) and d["unreliable"] is False and len(d["runs_ms"]) == 5
    with pytest.raises(ValueError, match="finite and >= 0"):
        summarize([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="at least one"):
        summarize([])


def test_warm_up_runs_until_two_runs_agree():
    # a slow first call (the cost the first length of each mixer used to pay), then steady
    clock = FakeClock([2.5, 1.25, 0.75, 0.75] + [0.75] * 5)
    t = time_cell(clock.work, warmup=1, max_warmup=5, repeats=5, clock=clock)
    assert t.warmup_runs == 4  # 2.5 -> 1.25 -> 0.75 -> 0.75: settled after the 4th
    assert t.runs == pytest.approx((0.75,) * 5) and t.median == pytest.approx(0.75) and not t.unreliable
    assert clock.calls == 9


def test_warm_up_stops_at_its_maximum_and_budget():
    clock = FakeClock([4.0, 2.0, 1.0, 0.5, 0.25, 0.12] * 3)
    assert timing.warm_up(clock.work, warmup=1, max_warmup=3, clock=clock) == 3
    clock = FakeClock([4.0, 2.0, 1.0, 0.5])
    assert timing.warm_up(clock.work, warmup=1, max_warmup=4, clock=clock, budget_s=5.0) == 2
    assert timing.warm_up(clock.work, warmup=0, clock=clock) == 0
    with pytest.raises(ValueError, match="warmup"):
        timing.warm_up(clock.work, warmup=3, max_warmup=2, clock=clock)


def test_a_noisy_cell_gets_more_runs_and_stays_flagged_if_still_noisy():
    # warm-up settles at once; the timed runs alternate 1 and 3 seconds: never a tight spread
    clock = FakeClock([1.0, 1.0] + [1.0, 3.0] * 10)
    t = time_cell(clock.work, warmup=1, repeats=4, max_repeats=8, clock=clock)
    assert len(t.runs) == 8 and t.unreliable and t.spread > timing.MAX_SPREAD
    # one outlier among steady runs: the median and IQR ignore it, the cell is trusted
    clock = FakeClock([1.0, 1.0] + [1.0, 1.0, 9.0, 1.0, 1.0])
    t = time_cell(clock.work, warmup=1, repeats=5, clock=clock)
    assert t.median == pytest.approx(1.0) and not t.unreliable and len(t.runs) == 5


def test_sync_is_called_around_every_run():
    calls = []
    clock = FakeClock([1.0] * 10)
    time_cell(clock.work, warmup=1, repeats=3, clock=clock, sync=lambda: calls.append(clock.calls))
    assert len(calls) == 2 * clock.calls


def test_pair_alternates_and_summarizes_both():
    order = []
    clock = FakeClock([1.0, 2.0] * 10)

    def a():
        order.append("a")
        clock.work()

    def b():
        order.append("b")
        clock.work()

    ta, tb = time_pair(a, b, warmup=1, repeats=4, clock=clock)
    assert order == ["a", "b"] * 5
    assert ta.median == pytest.approx(1.0) and tb.median == pytest.approx(2.0)
    assert not ta.unreliable and not tb.unreliable


def test_verdict_says_unreliable_when_any_cell_is_flagged():
    ok = summarize([1.0, 1.0, 1.0])
    bad = summarize([1.0, 3.0, 1.0, 3.0])
    assert verdict(True, ok, ok) == "PASS" and verdict(False, ok) == "FAIL"
    assert verdict(True, ok, bad) == "unreliable" and verdict(False, bad.as_dict()) == "unreliable"
    assert verdict(None, bad) == "n/a"
    assert isinstance(ok, Timing)
