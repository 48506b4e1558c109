"""Criterion tests of the probe-operator claims: trivial rows never pass, good rows can."""

from __future__ import annotations

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_probe_ops import CLAIMS as OPS


def _head_rows(at_k, below, control=1e-15):
    def make(seed, j):
        return {
            "head_count": {
                "k": 6,
                "error_at_k": at_k * (1 + j),
                "error_below_k": below * (1 + j),
                "control_error": control,
                "heads_needed": 6,
            }
        }

    return make


def _lrp_rows(lrp, gxi, accuracy=1.0):
    def make(seed, j):
        return {"mamba_lrp": {"accuracy": accuracy, "gap_lrp": lrp * (1 + j), "gap_gxi": gxi * (1 + j)}}

    return make


def _concept_rows(real, shuffled, auc=0.95):
    def make(seed, j):
        return {
            "concepts": {
                "heldout_auc": auc,
                "abs_cos": real * (1 + j),
                "shuffled_abs_cos": shuffled * (1 + j),
            }
        }

    return make


def judge(claim, make, jitter=0.01):
    return claim.judge({s: make(s, jitter * (i - 1)) for i, s in enumerate(claim.seeds)})


SCENARIOS = {
    "head_count": (
        {
            "zero operator": _head_rows(1.0, 1.0),
            "no better than k - 1 heads": _head_rows(0.08, 0.08),
            "approximate, not exact": _head_rows(1e-3, 0.08),
        },
        _head_rows(1e-15, 0.08),
    ),
    "mamba_lrp_conservation": (
        {
            "zero relevance": _lrp_rows(1.0, 1.0),
            "no better than gradient x input": _lrp_rows(0.9, 0.9),
            "approximately conserving": _lrp_rows(0.05, 1.0),
        },
        _lrp_rows(1e-16, 1.0),
    ),
    "hierarchical_orthogonality": (
        {
            "parallel": _concept_rows(1.0, 1.0),
            "no better than a shuffled hierarchy": _concept_rows(0.05, 0.05),
            "not orthogonal": _concept_rows(0.4, 0.6),
        },
        _concept_rows(0.03, 0.3),
    ),
}


def test_every_probe_ops_claim_is_discovered_and_has_scenarios():
    assert set(OPS) == set(SCENARIOS)
    assert all(CLAIMS[n] is c for n, c in OPS.items())


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_rows_never_pass_and_good_rows_can(name):
    trivial, good = SCENARIOS[name]
    for label, make in trivial.items():
        assert judge(OPS[name], make).status != "passed", label
    assert judge(OPS[name], good).status == "passed"


def test_missed_control_is_inconclusive():
    assert judge(OPS["head_count"], _head_rows(1e-15, 0.08, control=0.2)).status == "inconclusive"
    assert judge(OPS["mamba_lrp_conservation"], _lrp_rows(1e-16, 1.0, accuracy=0.6)).status == "inconclusive"
    assert (
        judge(OPS["hierarchical_orthogonality"], _concept_rows(0.03, 0.3, auc=0.6)).status == "inconclusive"
    )
