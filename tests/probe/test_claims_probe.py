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
    assert set(SCENARIOS) <= set(PROBE_CLAIMS)  # later claims: their own test_claims_probe*.py
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


class _CharLM:
    """A fake LM: ids = character codes (right-padded), each layer state = the code times (layer + 1)."""

    padding_side = "right"

    def encode(self, texts):
        import torch

        n = max(len(t) for t in texts)
        ids = torch.tensor([[ord(c) for c in t] + [0] * (n - len(t)) for t in texts])
        mask = torch.tensor([[1] * len(t) + [0] * (n - len(t)) for t in texts])
        from seqlab.lm.interface import Encoded

        return Encoded(ids, mask)

    def decode(self, ids):
        return ["".join(chr(int(c)) for c in row if int(c)) for row in ids]

    def hidden_states(self, ids, mask=None):
        return tuple(ids.float()[..., None].repeat(1, 1, 2) * (i + 1) for i in range(2))


def test_pooled_states_keep_the_input_order_and_truncate():
    from seqlab.probe.experiments import _pooled_states

    texts = ["abcdef", "z", "mmmm", "ab", "yyyyyyyyy"]
    out = _pooled_states(_CharLM(), texts, batch=2)
    want = [sum(map(ord, t)) / len(t) for t in texts]
    assert out[1][:, 0].tolist() == pytest.approx([2 * w for w in want])
    short = _pooled_states(_CharLM(), texts, batch=2, max_tokens=2)
    assert short[0][:, 0].tolist() == pytest.approx([sum(map(ord, t[:2])) / len(t[:2]) for t in texts])


def test_experiment_data_and_disjoint_prompt_blocks():
    from seqlab.probe.experiments import _folds, _subsample, lee_sentences, polarity

    texts, y = polarity()
    assert len(texts) == 200 and int(y.sum()) == 100
    s = lee_sentences()
    blocks = [set(_subsample(s, 17, seed, disjoint=True)) for seed in (0, 1, 2)]
    assert all(len(b) == 17 for b in blocks) and not (blocks[0] & blocks[1]) and not (blocks[1] & blocks[2])
    folds = _folds(200, 5, 0)
    assert sorted(int(i) for f in folds for i in f) == list(range(200))
