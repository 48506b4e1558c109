"""Criterion tests of claims_decode: synthetic rows of trivial predictors never pass; each can pass."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode import CLAIMS as DECODE
from seqlab.papers.claims_decode import DIMS


def _rec(heldout, train=1.0, random=0.0, zero=0.0):
    def make(run, j):
        out = {"perplexity": 80.0, "unigram_perplexity": 130.0}
        for d in DIMS:
            out |= {
                f"heldout_exact_{d}": heldout + j,
                f"train_exact_{d}": train,
                f"random_exact_{d}": random + j,
                f"zero_exact_{d}": zero + j,
            }
        return out

    return make


def _way(best=1.0, way=0.99, f1=1.0, target=0.4, rnd=0.45):
    def make(run, j):
        return {
            "continuous_acc": best,
            "wayward_acc": way - j,
            "wayward_projection_f1": f1,
            "target_tokens_acc": target,
            "random_prompt_acc": rnd,
            "task_token_acc": 1.0,
            "continuous_projected_acc": 0.4,
            "continuous_projection_f1": 0.0,
            "wayward_projected_acc": target,
            "chance": 0.25,
        }

    return make


def _ariel(gram, rand=0.0, uni=0.0, ppl=5.0):
    def make(run, j):
        return {
            "grammatical": gram + j,
            "random_tokens_grammatical": rand + j,
            "unigram_tokens_grammatical": uni,
            "unique": 1.0,
            "new_grammatical": gram,
            "round_trip_exact": 1.0,
            "perplexity": ppl,
            "unigram_perplexity": 22.0,
        }

    return make


RECOVERY_SCENARIOS = (
    {
        "nothing recovered": _rec(0.0),
        "random z as good": _rec(0.95, random=0.95),
        "the LM's own sentence": _rec(0.95, zero=0.95),
        "untrained recovery": _rec(0.95, train=0.5),
    },
    _rec(0.95),
)
SCENARIOS = {
    "sentence_recovery_transformer": RECOVERY_SCENARIOS,
    "sentence_recovery_recurrent": RECOVERY_SCENARIOS,
    "prompt_waywardness": (
        {
            "projection misses the target": _way(f1=0.5),
            "wayward prompt at chance": _way(way=0.25),
            "target text as good": _way(way=0.9, target=1.0),
            "no control": _way(best=0.5, way=0.5),
        },
        _way(),
    ),
    "ariel_uniform_sampling": (
        {
            "random tokens": _ariel(0.0),
            "as bad as unigram tokens": _ariel(0.85, uni=0.85),
            "LM learnt nothing": _ariel(0.9, ppl=21.0),
            "few grammatical": _ariel(0.5),
        },
        _ariel(0.9),
    ),
}


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def test_every_decode_claim_is_discovered_and_has_scenarios():
    assert set(SCENARIOS) == set(DECODE) and all(CLAIMS[n] is DECODE[n] for n in DECODE)
    assert {c.make_runs(0)[next(iter(c.make_runs(0)))].kind for c in DECODE.values()} == {"decode"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trivial_scenarios_never_pass(name):
    trivial, _ = SCENARIOS[name]
    for label, make in trivial.items():
        r = judge(DECODE[name], make)
        assert r.status in ("failed", "inconclusive"), f"{name}: {label!r} passed ({r.figure})"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_criterion_can_pass(name):
    r = judge(DECODE[name], SCENARIOS[name][1])
    assert r.status == "passed", r.figure
    assert r.seeds == 3 and r.low <= r.mean <= r.high


def test_a_missed_control_is_inconclusive():
    assert judge(DECODE["sentence_recovery_transformer"], _rec(0.95, train=0.2)).status == "inconclusive"
    assert judge(DECODE["ariel_uniform_sampling"], _ariel(0.95, ppl=30.0)).status == "inconclusive"
