"""Criterion tests of the reason claims: trivial predictors never pass; each criterion can pass."""

import pytest

from seqlab.experiments.cell import ExperimentCell, get_experiment
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_reason import CLAIMS as REASON
from seqlab.papers.status import STATUS


def row(acc, train=None, tokens=1.0, thoughts=0.0):
    return {
        "accuracy": acc,
        "train_accuracy": acc if train is None else train,
        "tokens": tokens,
        "thoughts": thoughts,
        "seconds_per_answer": 0.001,
        "wall_time": 1.0,
    }


def judge(c, accs, jitter=0.004, train=None):
    """``accs``: run name -> accuracy (same for every seed, plus a small jitter)."""
    runs = c.runs_by_seed()
    return c.judge({s: {n: row(accs[n] + i * jitter, train) for n in runs[s]} for i, s in enumerate(runs)})


# name -> (trivial scenarios, a passing one); chance 0.5 on the graph tasks, 1/7 on arithmetic mod 7
SCENARIOS = {
    "coconut_prosqa": (
        [
            {"coconut": 0.5, "cot": 0.5, "no_cot": 0.5},  # all at chance (control misses too)
            {"coconut": 0.95, "cot": 0.95, "no_cot": 0.95},  # no gain
            {"coconut": 0.85, "cot": 0.7, "no_cot": 0.9},  # no-CoT does better: thoughts add nothing
        ],
        {"coconut": 0.97, "cot": 0.78, "no_cot": 0.77},
    ),
    "superposition_reachability": (
        [
            {"superposition": 0.5, "cot": 0.5, "no_cot": 0.5},
            {"superposition": 0.9, "cot": 0.9, "no_cot": 0.6},
            {"superposition": 0.85, "cot": 0.7, "no_cot": 0.9},
        ],
        {"superposition": 0.96, "cot": 0.75, "no_cot": 0.7},
    ),
    "cot2_mnns": (
        [
            {"cot2": 0.2, "cot": 0.2, "no_cot": 0.2},
            {"cot2": 0.7, "cot": 0.7, "no_cot": 0.3},
            {"cot2": 0.6, "cot": 0.4, "no_cot": 0.65},
        ],
        {"cot2": 0.9, "cot": 0.6, "no_cot": 0.4},
    ),
    "pccot_arithmetic": (
        [
            {"pccot": 0.143, "sequential": 0.9, "no_cot": 0.143},  # chance
            {"pccot": 0.5, "sequential": 0.9, "no_cot": 0.5},  # no better than no-CoT
            {"pccot": 0.6, "sequential": 0.9, "no_cot": 0.3},  # far below sequential
        ],
        {"pccot": 0.88, "sequential": 0.9, "no_cot": 0.4},
    ),
}


# claims whose criterion tests live in other files (test_claims_reasona.py, test_claims_reasonb.py)
OTHER_FILES = {"cot2_mnns_v2", "continuous_memory_grid_nav", "cocomix_lee", "ccdd_mnns"}
OTHER_FILES |= {"ccot_arithmetic", "softcot_arithmetic", "soft_tokens_pass1", "soft_tokens_pass4"}


def test_every_reason_claim_is_registered_with_scenarios_and_a_judged_title():
    assert set(SCENARIOS) == set(REASON) - OTHER_FILES
    for name, c in REASON.items():
        if name in OTHER_FILES:
            continue
        assert CLAIMS[name] is c and c.title in STATUS
        assert all(isinstance(cell, ExperimentCell) and cell.kind == "reason" for cell in c.runs)
        assert len(c.runs) == 3 * len(c.runs_by_seed()[0])


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_predictors_never_pass(name):
    trivial, _ = SCENARIOS[name]
    for accs in trivial:
        r = judge(REASON[name], accs)
        assert r.status in ("failed", "inconclusive"), (accs, r.figure)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive(name):
    _, good = SCENARIOS[name]
    r = judge(REASON[name], good)
    assert r.status == "passed", r.figure
    assert "acc" in r.figure and "ms/answer" in r.figure
    assert judge(REASON[name], good, train=0.3).status == "inconclusive"


def test_a_clear_loss_fails():
    r = judge(REASON["coconut_prosqa"], {"coconut": 0.6, "cot": 0.9, "no_cot": 0.6})
    assert r.status == "failed"


def test_the_arm_experiment_is_registered_and_refuses_unknown_methods():
    fn = get_experiment("reason.arm")
    with pytest.raises(ValueError, match="unknown method"):
        fn({"task": "arithmetic", "method": "magic", "steps": 1}, 0)


def test_one_arm_runs_end_to_end():
    out = get_experiment("reason.arm")(
        {
            "task": "arithmetic",
            "task_kw": {"n_ops": 2, "modulus": 3},
            "method": "pccot",
            "steps": 3,
            "d_model": 16,
            "n_heads": 2,
            "eval_n": 8,
            "method_kw": {"iterations": 1},
        },
        0,
    )
    assert {"accuracy", "tokens", "thoughts", "seconds_per_answer", "train_accuracy"} <= set(out)
    assert out["thoughts"] == 2.0 and out["tokens"] == 1.0 and 0 <= out["accuracy"] <= 1


def test_curriculum_arm_with_the_superposition_check_runs_end_to_end():
    out = get_experiment("reason.arm")(
        {
            "task": "reachability",
            "task_kw": {"n_nodes": 6, "n_edges": 7, "depth": 2, "n_names": 8},
            "method": "superposition",
            "steps": 4,
            "stage_steps": 1,
            "d_model": 16,
            "n_heads": 2,
            "eval_n": 8,
            "superposition_check": True,
        },
        0,
    )
    assert out["thoughts"] == 2.0 and len(out["frontier"]) == len(out["other"]) == 2
    cot = get_experiment("reason.arm")(
        {
            "task": "prosqa",
            "task_kw": {"depth": 2, "n_names": 10},
            "method": "cot",
            "steps": 2,
            "d_model": 16,
            "n_heads": 2,
            "eval_n": 8,
        },
        0,
    )
    assert cot["tokens"] >= 1 and 0 <= cot["tf_accuracy"] <= 1
