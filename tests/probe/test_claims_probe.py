"""Criterion tests of the probe claims: trivial predictors never pass; each criterion can pass."""

import pytest

from seqlab.experiments.cell import claim_cells
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_probe import CLAIMS as PROBE_CLAIMS
from seqlab.papers.status import STATUS

V = 49152


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def _sipit(rec, near=0.0, ctl=1.0):
    return lambda j: (
        {
            "recovered": min(1.0, rec + (j if rec < 1 else 0)),
            "nearest_embedding": near + j,
            "layer0_recovered": ctl,
            "chance": 1 / V,
        }
    )


def _platonic(align, shuffled=0.034, ctl=0.8):
    return lambda j: {"alignment": align + j, "shuffled": shuffled + j, "self_next_layer": ctl}


def _inter(gain, best=0.8):
    return lambda j: (
        {
            "gain": gain + j,
            "best_accuracy": best,
            "picked_layers": [10],
            "last_accuracy": 0.7,
            "metric_picks": {},
        }
    )


SCENARIOS = {
    "sipit_smollm2": (
        {
            "chance": _sipit(1 / V, 1 / V),
            "nearest embedding only": _sipit(0.3, 0.3),
            "almost all": _sipit(0.98, 0.1),
        },
        _sipit(1.0, 0.05),
    ),
    "platonic_smollm2_minilm": (
        {
            "chance": _platonic(0.034),
            "no better than shuffled": _platonic(0.2, shuffled=0.2),
            "above chance, below threshold": _platonic(0.07),
        },
        _platonic(0.2),
    ),
    "intermediate_layer_probe": (
        {"no layer effect": _inter(0.0), "last layer better": _inter(-0.05), "tiny gain": _inter(0.01)},
        _inter(0.08),
    ),
}


def test_every_probe_claim_is_discovered_and_has_scenarios():
    assert set(PROBE_CLAIMS) == set(SCENARIOS)
    for name, c in PROBE_CLAIMS.items():
        assert CLAIMS[name] is c and claim_cells(c) and c.title in STATUS
        assert len(set(c.seeds)) >= 3 and any(b.kind == "beat" for b in c.baselines)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_scenarios_never_pass(name):
    for label, make in SCENARIOS[name][0].items():
        r = judge(PROBE_CLAIMS[name], make)
        assert r.status in ("failed", "inconclusive"), f"{name}: {label!r} -> {r.status} {r.figure}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_criterion_can_pass(name):
    r = judge(PROBE_CLAIMS[name], SCENARIOS[name][1])
    assert r.status == "passed", r.figure


def test_a_missed_control_is_inconclusive():
    assert judge(PROBE_CLAIMS["sipit_smollm2"], _sipit(1.0, ctl=0.5)).status == "inconclusive"
    assert judge(PROBE_CLAIMS["platonic_smollm2_minilm"], _platonic(0.3, ctl=0.2)).status == "inconclusive"
    assert judge(PROBE_CLAIMS["intermediate_layer_probe"], _inter(0.1, best=0.55)).status == "inconclusive"
