"""Criterion tests of the claims: trivial predictors never pass; each criterion can pass."""

import pytest

from seqlab.experiments.cell import claim_cells
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_probe import CLAIMS as PROBE_CLAIMS
from seqlab.papers.status import STATUS


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def _onion(gap, task=0.99):
    return lambda j: {
        "gap": gap + j,
        "task_accuracy": task,
        "onion_per_position": [0.5],
        "linear_per_position": [0.5],
        "gamma": [1.0],
        "intervention_success": 0.0,
    }


def _length(slope, flat=0.06, train=1.0):
    return lambda j: {
        "mamba_slope": slope + j,
        "flat_slope": flat + j,
        "min_mamba_train": train,
        "mamba_gap": [0.0],
        "flat_gap": [0.0],
        "attention_ape_gap": [0.0],
        "attention_ape_slope": 0.0,
    }


def _flow(gap, emb=0.0, bits=0.7):
    return lambda j: {
        "early_gap": gap + j,
        "embedding_gap": emb + j,
        "worst_bits_ratio": bits,
        "ssm_token_similarity": [0.1],
        "transformer_token_similarity": [0.1],
        "untrained_early_gap": 0.0,
        "ssm_bits": 3.0,
        "transformer_bits": 3.0,
        "unigram_bits": 4.3,
    }


SCENARIOS = {
    "rnn_onion_probe": (
        {"probes equal": _onion(0.0), "linear better": _onion(-0.2), "small gain": _onion(0.03)},
        _onion(0.3),
    ),
    "selective_ssm_length_gap": (
        {
            "grows like the null": _length(0.05),
            "grows like the per-position readout": _length(0.06, flat=0.06),
            "grows a little": _length(0.035),
        },
        _length(0.0),
    ),
    "ssm_transformer_flow": (
        {
            "no difference": _flow(0.0),
            "ssm homogenises first": _flow(-0.2),
            "no more than at the embeddings": _flow(0.2, emb=0.2),
        },
        _flow(0.25),
    ),
}


def test_probeb_claims_are_discovered_and_judged():
    for name in SCENARIOS:
        c = PROBE_CLAIMS[name]
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
    assert judge(PROBE_CLAIMS["rnn_onion_probe"], _onion(0.3, task=0.6)).status == "inconclusive"
    assert judge(PROBE_CLAIMS["selective_ssm_length_gap"], _length(0.0, train=0.7)).status == "inconclusive"
    assert judge(PROBE_CLAIMS["ssm_transformer_flow"], _flow(0.3, bits=0.95)).status == "inconclusive"
