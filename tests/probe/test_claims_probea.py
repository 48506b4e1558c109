"""Criterion tests of the probe claims: trivial predictors never pass; each criterion can pass."""

import pytest

from seqlab.papers.claims_probe import CLAIMS as PROBE_CLAIMS
from seqlab.papers.status import STATUS


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def _frames(gain, random=0.0, greedy=0.05, ctl=1.5):
    return lambda j: {
        "gain": gain + j,
        "random_gain": random + j,
        "greedy_gain": greedy + j,
        "other_gain": 0.1,
        "control_gain": ctl,
        "full_rank_fraction": 1.0,
        "multi_token_words": 68,
        "example": "x",
    }


def _count(ratio, other=0.1, gap=0.4):
    return lambda j: {
        "shrink_ratio": ratio + j,
        "other_ratio": other + j,
        "gap": gap,
        "count_one": 2.8,
        "count_n": 3.2,
        "count_shrunk": 2.9,
        "count_other": 3.1,
        "curve": {"0.25": 2.9, "1.0": 3.2},
    }


def _simplex(acc, shuffled=0.2, auc=0.9):
    return lambda j: {
        "vertex_accuracy": acc + j,
        "shuffled_vertex_accuracy": shuffled + j,
        "heldout_auc": auc,
        "inside_fraction": 0.1,
        "shuffled_inside_fraction": 0.05,
        "min_affine_independence": 0.4,
        "shuffled_min_affine_independence": 0.3,
        "raw_vertex_accuracy": 0.4,
        "heldout_words": 43,
    }


def _shift(gain, single=-0.01, random=-0.2, ctl=1.0):
    cues = {
        f"{m}_{c}": 0.7 for m in ("concat", "wide", "single", "random_concat") for c in ("easy", "bigram")
    }
    return lambda j: {
        "gain": gain + j,
        "single_gain": single + j,
        "random_gain": random + j,
        "min_source_accuracy": ctl,
        **cues,
    }


SCENARIOS = {
    "concat_shift": (
        {
            "concat equals wide": _shift(0.0),
            "no better than one run": _shift(0.05, single=0.05),
            "below threshold": _shift(0.01, single=-0.05),
        },
        _shift(0.05),
        _shift(0.05, ctl=0.6),
    ),
    "categorical_simplex": (
        {
            "chance": _simplex(0.25),
            "no better than shuffled": _simplex(0.6, shuffled=0.6),
            "below threshold": _simplex(0.4),
        },
        _simplex(0.7),
        _simplex(0.7, auc=0.6),
    ),
    "continuous_counting": (
        {
            "durations ignored": _count(0.0),
            "no more specific than shrinking other tokens": _count(0.7, other=0.7),
            "below threshold": _count(0.3),
        },
        _count(0.9),
        _count(0.9, gap=0.05),
    ),
    "frame_guided_decoding": (
        {
            "no steering": _frames(0.0),
            "no better than a random frame": _frames(0.5, random=0.5),
            "no better than greedy": _frames(0.4, greedy=0.4),
            "below threshold": _frames(0.15),
        },
        _frames(0.6),
        _frames(0.6, ctl=0.4),
    ),
}


def test_my_claims_are_discovered_judged_and_have_scenarios():
    for name in SCENARIOS:
        c = PROBE_CLAIMS[name]
        assert c.title in STATUS and len(set(c.seeds)) >= 3 and any(b.kind == "beat" for b in c.baselines)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_scenarios_never_pass(name):
    for label, make in SCENARIOS[name][0].items():
        r = judge(PROBE_CLAIMS[name], make)
        assert r.status in ("failed", "inconclusive"), f"{name}: {label!r} -> {r.status} {r.figure}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive(name):
    assert judge(PROBE_CLAIMS[name], SCENARIOS[name][1]).status == "passed"
    assert judge(PROBE_CLAIMS[name], SCENARIOS[name][2]).status == "inconclusive"
