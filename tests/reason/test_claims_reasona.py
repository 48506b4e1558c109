"""Criterion tests of the r4-reasona claims (CCoT, SoftCoT, soft tokens, Coconut / superposition v2):
trivial predictors never pass; each criterion can pass; a missed control is inconclusive."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_reason import CLAIMS as REASON
from seqlab.papers.status import STATUS

MINE = ("ccot_arithmetic",)


def row(acc, train=None, thoughts=0.0, **extra):
    return {
        "accuracy": acc,
        "train_accuracy": acc if train is None else train,
        "tokens": 1.0,
        "thoughts": thoughts,
        "seconds_per_answer": 0.001,
        **extra,
    }


def ccot_seed(ccot, no_cot, cot=0.95, train=None, j=0.0):
    ratios = {"0.25": ccot, "0.5": ccot + 0.05, "1.0": ccot + 0.1}
    return {
        "ccot": {
            "cot": row(cot + j, train),
            "ccot": {
                r: row(min(1.0, a + j), thoughts=float(i + 1)) for i, (r, a) in enumerate(ratios.items())
            },
        },
        "no_cot": row(no_cot + j),
    }


def judge(name, make, jitter=0.004):
    c = REASON[name]
    return c.judge({s: make(i * jitter) for i, s in enumerate(c.runs_by_seed())})


def test_registered_with_judged_titles():
    for name in MINE:
        c = REASON[name]
        assert CLAIMS[name] is c and c.title in STATUS
        assert len(c.runs) == 3 * len(c.runs_by_seed()[0])


@pytest.mark.parametrize(
    "ccot,no_cot",
    [(0.2, 0.2), (0.5, 0.5), (0.3, 0.6), (0.22, 0.2)],  # chance; no gain; worse; a gain below threshold
)
def test_ccot_trivial_predictors_never_pass(ccot, no_cot):
    r = judge("ccot_arithmetic", lambda j: ccot_seed(ccot, no_cot, j=j))
    assert r.status in ("failed", "inconclusive"), r.figure


def test_ccot_can_pass_and_a_missed_control_is_inconclusive():
    r = judge("ccot_arithmetic", lambda j: ccot_seed(0.6, 0.3, j=j))
    assert r.status == "passed", r.figure
    assert "r=0.25" in r.figure and "no-CoT" in r.figure
    r = judge("ccot_arithmetic", lambda j: ccot_seed(0.6, 0.3, cot=0.3, train=0.3, j=j))
    assert r.status == "inconclusive"
