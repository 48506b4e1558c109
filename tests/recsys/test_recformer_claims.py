"""Criterion tests of the claim recformer_pretraining: trivial rows never pass; the criterion can pass."""

import pytest

from seqlab.experiments.cell import get_experiment
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_recsys_recformer2 import CLAIMS as OWN
from seqlab.recsys.recformer_experiment import arms

C = OWN["recformer_pretraining"]


def row(pop, current, paper, warm_gain=1.2, jitter=0.0):
    """One seed's cell: Recall@20 on all users per model; warm = all, cold = half (same ratios)."""
    out = {"random.cold.recall@20": 0.0125, "random.cold.recall@10": 0.006}
    models = {
        "popularity": pop,
        "current": current,
        "paper": paper,
        "no_pretrain": current,
        "bidirectional": current,
    }
    for m, v in models.items():
        v = v + jitter if m == "paper" else v
        out[f"{m}.cpu_seconds"] = 1.0
        for g, scale in (("all", 1.0), ("cold", 0.5), ("warm", 1.0)):
            out[f"{m}.{g}.recall@20"] = v * scale
            out[f"{m}.{g}.ndcg@10"] = v * scale / 3
    out["paper.warm.recall@20"] = pop * warm_gain if warm_gain is not None else out["paper.warm.recall@20"]
    out["popularity.cold.recall@20"] = 0.0
    return out


def judge(rows):
    runs = C.runs_by_seed()
    return C.judge({s: {n: rows[i] for n in runs[s]} for i, s in enumerate(runs)})


def test_the_claim_is_discovered_and_its_cell_is_registered():
    assert CLAIMS["recformer_pretraining"] is C
    assert {c.experiment for c in C.runs} == {"recsys.recformer_pretraining"} and len(C.runs) == 3
    assert callable(get_experiment("recsys.recformer_pretraining"))


@pytest.mark.parametrize(
    "pop, current, paper",
    [
        (0.08, 0.08, 0.08),  # no gain: the framework ties the earlier model
        (0.08, 0.06, 0.066),  # +10% but still below popularity's ratio (1.33)
        (0.08, 0.10, 0.0),  # retrieves nothing
        (0.08, 0.10, 0.105),  # +5%: below the threshold
    ],
)
def test_trivial_rows_never_pass(pop, current, paper):
    rows = [row(pop, current, paper, jitter=j) for j in (0.0, 0.001, 0.002)]
    assert judge(rows).status != "passed"


def test_the_criterion_can_pass_fail_and_be_inconclusive():
    good = [row(0.08, 0.10, 0.13, jitter=j) for j in (0.0, 0.001, 0.002)]
    result = judge(good)
    assert result.status == "passed" and result.mean == pytest.approx(1.31, abs=0.02)
    assert "cold users: paper / current" in result.figure and "w/o pre-training" in result.figure
    worse = [row(0.08, 0.10, 0.09, jitter=j) for j in (0.0, 0.001, 0.002)]
    assert judge(worse).status == "failed"
    unlearned = [row(0.08, 0.10, 0.13, warm_gain=0.8, jitter=j) for j in (0.0, 0.001, 0.002)]
    assert judge(unlearned).status == "inconclusive"  # control: below popularity on warm users
    wide = [row(0.08, 0.10, v) for v in (0.2, 0.09, 0.12)]
    assert judge(wide).status == "inconclusive"


def test_arms_split_the_same_number_of_steps():
    a = arms(1200, 100)
    assert a["current"]["max_steps"] == a["bidirectional"]["max_steps"] == 1200
    p, n = a["paper"], a["no_pretrain"]
    assert p["pretrain_steps"] + p["stage1_steps"] + p["stage2_steps"] == 1200
    assert n["stage1_steps"] + n["stage2_steps"] == 1200 and "pretrain_steps" not in n
    assert a["paper"]["bidirectional"] and not a["current"].get("bidirectional", False)
    with pytest.raises(ValueError, match="steps must be an int >= 6"):
        arms(3, 1)


@pytest.mark.slow
def test_the_cell_runs_on_real_data_at_toy_size():
    out = get_experiment("recsys.recformer_pretraining")({"users": 60, "steps": 6, "refresh_every": 2}, 0)
    assert out["groups.all"] == 60 and out["groups.cold"] + out["groups.warm"] == 60
    assert "bidirectional.all.recall@20" not in out  # that arm only with bidirectional_arm=True
    for m in ("popularity", "current", "paper", "no_pretrain"):
        assert 0 <= out[f"{m}.all.recall@10"] <= out[f"{m}.all.recall@20"] <= 1
    assert out["popularity.cold.recall@20"] == 0  # a cold item has no training count
    assert 0 <= out["paper.best_valid_recall@20"] <= 1 and "current.best_valid_recall@20" not in out
    # every claim function reads what the cell writes
    runs = C.runs_by_seed()
    C.judge({s: {n: out for n in runs[s]} for s in runs})
