"""Criterion of the DARE claim: synthetic rows of trivial predictors never pass; the criterion can pass."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_recsys_dare import CLAIMS as DARE


def _rows(gain, coupled=0.06, pop=0.03):
    def make(run, j):
        return {
            "ndcg10_decoupled": coupled + gain + j,
            "ndcg10_coupled": coupled,
            "ndcg10_popularity": pop,
            "recall10_decoupled": 0.1,
            "recall10_coupled": 0.1,
            "gain_ndcg10": gain + j,
        }

    return make


def judge(c, make, jitter=0.0005):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def test_discovered_with_a_recsys_cell():
    assert set(DARE) == {"dare_decoupled_embeddings"}
    assert CLAIMS["dare_decoupled_embeddings"] is DARE["dare_decoupled_embeddings"]
    assert DARE["dare_decoupled_embeddings"].make_runs(0)["dare"].kind == "recsys"


@pytest.mark.parametrize(
    "label,make",
    [
        ("coupled as good (gain 0)", _rows(0.0)),
        ("coupled better", _rows(-0.01)),
        ("below the threshold", _rows(0.001)),
        ("both below popularity", _rows(0.01, coupled=0.01, pop=0.05)),
    ],
)
def test_trivial_rows_never_pass(label, make):
    assert judge(DARE["dare_decoupled_embeddings"], make).status in ("failed", "inconclusive"), label


def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive():
    r = judge(DARE["dare_decoupled_embeddings"], _rows(0.01))
    assert r.status == "passed" and r.seeds == 3 and r.low <= r.mean <= r.high, r.figure
    missed = _rows(0.01, coupled=0.01, pop=0.05)
    assert judge(DARE["dare_decoupled_embeddings"], missed).status == "inconclusive"


def test_the_cell_runs_on_a_few_users_and_its_gain_is_the_difference():
    from seqlab.recsys.dare_experiment import dare_coupling

    r = dare_coupling({"users": 30, "d": 8}, 0)
    assert r["gain_ndcg10"] == pytest.approx(r["ndcg10_decoupled"] - r["ndcg10_coupled"])
    assert all(0.0 <= r[k] <= 1.0 for k in r if k.startswith(("ndcg10", "recall10")))
    assert set(r) >= {"ndcg10_popularity", "recall10_decoupled", "recall10_coupled"}
