"""Criterion tests of the recsys claim: trivial predictors never pass; the criterion can pass."""

import pytest

from seqlab.experiments.cell import get_experiment
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_recsys import CLAIMS as RECSYS
from seqlab.papers.status import STATUS

C = RECSYS["grid_constrained_beam"]


def row(pop, sasrec, grid, invalid=0.0):
    out = {
        "grid.invalid_ids": invalid,
        "grid.emitted_ids": 100.0,
        "grid.unconstrained_invalid_rate": 0.1,
        "grid.sid_unique_tuple_rate": 0.6,
    }
    for name, r in (("popularity", pop), ("sasrec", sasrec), ("grid", grid)):
        out.update({f"{name}.recall@10": r, f"{name}.ndcg@10": r / 2, f"{name}.train_seconds": 1.0})
    return out


def judge(pop, sasrec, grid, invalid=0.0, jitter=0.002):
    runs = C.runs_by_seed()
    return C.judge(
        {
            s: {n: row(pop, sasrec + i * jitter, grid + i * jitter, invalid) for n in runs[s]}
            for i, s in enumerate(runs)
        }
    )


def test_the_claim_is_discovered_and_runs_a_registered_experiment():
    assert CLAIMS["grid_constrained_beam"] is C
    assert {c.experiment for c in C.runs} == {"recsys.grid_vs_sasrec"} and len(C.runs) == 3
    assert callable(get_experiment("recsys.grid_vs_sasrec")) and callable(
        get_experiment("recsys.grid_ablation")
    )
    assert STATUS[C.title].status == "partial"


@pytest.mark.parametrize(
    "pop, sasrec, grid, invalid",
    [
        (0.05, 0.12, 0.05, 0.0),  # GRID at popularity level
        (0.05, 0.12, 0.0, 0.0),  # retrieves nothing
        (0.05, 0.12, 0.13, 3.0),  # beats SASRec but emitted invalid IDs
        (0.05, 0.12, 0.08, 0.0),  # two thirds of SASRec: does not match it
    ],
)
def test_trivial_or_invalid_generators_never_pass(pop, sasrec, grid, invalid):
    assert judge(pop, sasrec, grid, invalid).status != "passed"


def test_the_criterion_can_pass_fail_and_be_inconclusive():
    assert judge(0.05, 0.12, 0.12).status == "passed"
    assert judge(0.05, 0.12, 0.06).status == "failed"
    assert judge(0.05, 0.055, 0.06).status == "inconclusive"  # SASRec does not beat popularity: control
    wide = C.judge(
        {
            0: {"cell": row(0.05, 0.12, 0.2)},
            1: {"cell": row(0.05, 0.12, 0.02)},
            2: {"cell": row(0.05, 0.12, 0.12)},
        }
    )
    assert wide.status == "inconclusive"


@pytest.mark.slow
def test_the_claim_cell_runs_on_real_data_at_toy_size():
    fn = get_experiment("recsys.grid_vs_sasrec")
    params = {
        "users": 40,
        "sasrec": {"epochs": 1},
        "grid": {"epochs": 1, "quantizer_steps": 50},
        "contrast_users": 3,
    }
    out = fn(params, 0)
    assert out["grid.invalid_ids"] == 0 and out["grid.emitted_ids"] == 40 * 20
    for m in ("popularity", "sasrec", "grid"):
        assert 0 <= out[f"{m}.recall@10"] <= out[f"{m}.recall@20"] <= 1
    assert 0 <= out["grid.unconstrained_invalid_rate"] <= 1 and out["grid.sid_items"] == 1682
    assert {c.kind for c in C.runs} == {"recsys"}
