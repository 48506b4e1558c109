"""Criterion tests of the reason claims (CCoT, SoftCoT, soft tokens, Coconut / superposition v2):
trivial predictors never pass; each criterion can pass; a missed control is inconclusive."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_reason import CLAIMS as REASON
from seqlab.papers.status import STATUS

MINE = ("ccot_arithmetic", "softcot_arithmetic", "soft_tokens_pass1", "soft_tokens_pass4")


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


def softcot_seed(soft, backbone, assistant=0.25, train=None, j=0.0):
    arms = {"softcot": soft, "backbone": backbone, "assistant": assistant, "untrained": backbone}
    out = {a: row(v + j, train if a == "backbone" else None) for a, v in arms.items()}
    return {"softcot": out}


@pytest.mark.parametrize(
    "soft,backbone,assistant",
    [(0.2, 0.2, 0.2), (0.45, 0.45, 0.3), (0.4, 0.45, 0.3), (0.46, 0.45, 0.3), (0.5, 0.4, 0.6)],
)  # chance; no gain; worse; below threshold; the assistant alone does better
def test_softcot_trivial_predictors_never_pass(soft, backbone, assistant):
    r = judge("softcot_arithmetic", lambda j: softcot_seed(soft, backbone, assistant, j=j))
    assert r.status in ("failed", "inconclusive"), r.figure


def test_softcot_can_pass_and_a_missed_control_is_inconclusive():
    r = judge("softcot_arithmetic", lambda j: softcot_seed(0.5, 0.4, j=j))
    assert r.status == "passed", r.figure
    assert "assistant" in r.figure and "untrained" in r.figure
    r = judge("softcot_arithmetic", lambda j: softcot_seed(0.5, 0.4, train=0.2, j=j))
    assert r.status == "inconclusive"


def rates(p1, p4, train=None):
    d = {"pass1": p1, "pass1_sampled": p1, "pass4": p4, "distinct_answers": 2.0}
    return {"hard": dict(d), "soft": dict(d), "train_pass1": p1 if train is None else train}


def st_seed(base, hard, soft, fuzzy=None, train=None, j=0.0):
    f = fuzzy or soft
    return {
        "rl": {
            "base": rates(base[0] + j, base[1] + j),
            "hard": rates(hard[0] + j, hard[1] + j, train),
            "soft": rates(soft[0] + j, soft[1] + j),
            "fuzzy": rates(f[0] + j, f[1] + j),
        }
    }


@pytest.mark.parametrize(
    "base,hard,soft",
    [
        ((0.2, 0.59), (0.2, 0.59), (0.2, 0.59)),  # chance everywhere (control misses too)
        ((0.6, 0.8), (0.8, 0.9), (0.6, 0.8)),  # soft RL learns nothing beyond the base
        ((0.4, 0.7), (0.9, 0.95), (0.7, 0.96)),  # far below hard-token RL
    ],
)
def test_soft_tokens_pass1_trivial_predictors_never_pass(base, hard, soft):
    r = judge("soft_tokens_pass1", lambda j: st_seed(base, hard, soft, j=j))
    assert r.status in ("failed", "inconclusive"), r.figure


@pytest.mark.parametrize(
    "base,hard,soft",
    [
        ((0.4, 0.7), (0.8, 0.9), (0.8, 0.9)),  # no gain
        ((0.4, 0.7), (0.8, 0.9), (0.7, 0.85)),  # worse
        ((0.4, 0.95), (0.8, 0.9), (0.8, 0.93)),  # the base model beats both
    ],
)
def test_soft_tokens_pass4_trivial_predictors_never_pass(base, hard, soft):
    r = judge("soft_tokens_pass4", lambda j: st_seed(base, hard, soft, j=j))
    assert r.status in ("failed", "inconclusive"), r.figure


def test_soft_tokens_claims_can_pass_and_a_missed_control_is_inconclusive():
    good = ((0.4, 0.7), (0.8, 0.88), (0.79, 0.95))
    for name in ("soft_tokens_pass1", "soft_tokens_pass4"):
        r = judge(name, lambda j: st_seed(*good, j=j))
        assert r.status == "passed", (name, r.figure)
        assert "fuzzy" in r.figure and "distinct" in r.figure
        assert judge(name, lambda j: st_seed(*good, train=0.3, j=j)).status == "inconclusive"
