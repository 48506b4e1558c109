"""Criterion tests of the later reason claims: trivial outcomes never pass; each criterion can pass;
a missed positive control is inconclusive."""

import pytest

from seqlab.experiments.cell import ExperimentCell
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_reason import CLAIMS as REASON
from seqlab.papers.status import STATUS

MINE = ("cot2_mnns_v2", "continuous_memory_grid_nav", "cocomix_lee", "ccdd_mnns")


def judge(name, make_row, values, jitter=0.004, **kw):
    c = REASON[name]
    runs = c.runs_by_seed()
    return c.judge(
        {s: {n: make_row(n, values[n] + i * jitter, **kw) for n in runs[s]} for i, s in enumerate(runs)}
    )


def arm_row(name, acc, train=None):
    return {
        "accuracy": acc,
        "train_accuracy": acc if train is None else train,
        "tokens": 1.0,
        "thoughts": 0.0,
        "seconds_per_answer": 0.001,
    }


def memory_row(name, success, train=None):
    return {
        "success": success,
        "success_by_size": {"8": success - 0.02, "16": success - 0.01, "32": success},
        "train_success": success if train is None else train,
        "memory_positions": 0 if name == "none" else 8,
    }


def ccdd_row(name, acc, train=None):
    return {"accuracy": acc, "trace_accuracy": acc / 2, "train_accuracy": acc if train is None else train}


def cocomix_row(name, losses, train=None):
    """``losses``: (plain, cocomix, unigram) held-out nats, shifted by the jitter; ``train`` here is the
    unigram loss to use instead (a unigram no worse than plain makes the control miss)."""
    plain, cocomix, unigram = losses
    return {
        "plain": {"heldout_loss": plain, "train_loss": plain - 1},
        "cocomix": {"heldout_loss": cocomix, "train_loss": cocomix - 1},
        "unigram": unigram if train is None else plain - 0.01,
        "vocab": 900,
        "sae_fvu": 0.3,
        "sae_l0": 8.0,
    }


class Losses(tuple):
    def __add__(self, j):
        return Losses((self[0] + j, self[1] + j, self[2]))


ROWS = {
    "cot2_mnns_v2": arm_row,
    "continuous_memory_grid_nav": memory_row,
    "cocomix_lee": cocomix_row,
    "ccdd_mnns": ccdd_row,
}
SCENARIOS = {
    "cot2_mnns_v2": (
        [
            {"cot2": 0.2, "cot": 0.2, "no_cot": 0.2},  # nothing learned (control misses too)
            {"cot2": 0.7, "cot": 0.7, "no_cot": 0.3},  # no gain over CoT
            {"cot2": 0.6, "cot": 0.4, "no_cot": 0.65},  # no-CoT does better than CoT2
        ],
        {"cot2": 0.95, "cot": 0.66, "no_cot": 0.44},
    ),
    "continuous_memory_grid_nav": (
        [
            {"continuous": 0.6, "text": 0.6, "none": 0.3},  # equal memories
            {"continuous": 0.6, "text": 0.7, "none": 0.3},  # text memory better
            {"continuous": 0.62, "text": 0.5, "none": 0.64},  # memory adds nothing over no memory
        ],
        {"continuous": 0.75, "text": 0.6, "none": 0.4},
    ),
    "cocomix_lee": (
        [
            {"both": Losses((5.0, 5.0, 6.0))},  # no gain
            {"both": Losses((5.0, 5.1, 6.0))},  # CoCoMix worse
            {"both": Losses((6.5, 6.45, 6.0))},  # both worse than the unigram model (control misses)
        ],
        {"both": Losses((5.5, 5.4, 6.0))},
    ),
    "ccdd_mnns": (
        [
            {"joint": 0.1, "discrete": 0.1},  # chance for both
            {"joint": 0.8, "discrete": 0.8},  # no gain
            {"joint": 0.6, "discrete": 0.7},  # joint worse
        ],
        {"joint": 0.85, "discrete": 0.7},
    ),
}


def test_my_claims_are_registered_with_judged_titles_and_reason_cells():
    assert set(SCENARIOS) == set(MINE) and set(MINE) <= set(REASON)
    for name in MINE:
        c = REASON[name]
        assert CLAIMS[name] is c and c.title in STATUS
        assert all(isinstance(cell, ExperimentCell) and cell.kind == "reason" for cell in c.runs)
        assert len(c.runs) == 3 * len(c.runs_by_seed()[0])


@pytest.mark.parametrize("name", MINE)
def test_trivial_outcomes_never_pass(name):
    trivial, _ = SCENARIOS[name]
    for values in trivial:
        r = judge(name, ROWS[name], values)
        assert r.status in ("failed", "inconclusive"), (values, r.figure)


@pytest.mark.parametrize("name", MINE)
def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive(name):
    _, good = SCENARIOS[name]
    r = judge(name, ROWS[name], good)
    assert r.status == "passed", r.figure
    assert judge(name, ROWS[name], good, train=0.3).status == "inconclusive"


def test_memory_details_show_the_size_curve():
    r = judge("continuous_memory_grid_nav", memory_row, SCENARIOS["continuous_memory_grid_nav"][1])
    assert "N=8" in r.figure and "N=32" in r.figure and "8 memory positions" in r.figure
