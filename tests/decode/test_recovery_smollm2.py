"""Sentence recovery on SmolLM2: the claim's criterion and its sentence pool."""

import pytest
import torch

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode_smollm2 import CLAIMS as SMOL
from seqlab.papers.claims_decode_smollm2 import DIMS, TOP

NAME = "sentence_recovery_smollm2"


def _rows(exact, control=1.0, random=0.0, zero=0.0):
    def make(run, j):
        out = {"pool": 24, "n_sentences": 5, "tokens": 32}
        for d in DIMS:
            out |= {f"exact_{d}": exact + j, f"token_acc_{d}": 0.9, f"cpu_{d}": 10.0}
        return out | {
            f"random_exact_{TOP}": random + j,
            f"zero_exact_{TOP}": zero + j,
            f"control_exact_{TOP}": control,
            f"prefix_exact_{TOP}": 0.0,
            f"prefix_token_acc_{TOP}": 0.3,
        }

    return make


def judge(make, jitter=0.002):
    c = SMOL[NAME]
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def test_discovered_with_a_decode_cell():
    assert set(SMOL) == {NAME} and CLAIMS[NAME] is SMOL[NAME]
    cell = SMOL[NAME].make_runs(1)["rec"]
    assert cell.kind == "decode" and cell.experiment == "decode.recovery_smollm2" and cell.seed == 1


@pytest.mark.parametrize(
    "label,make",
    [
        ("nothing recovered", _rows(0.0)),
        ("random z as good", _rows(0.95, random=0.95)),
        ("the LM's own sentence", _rows(0.95, zero=0.95)),
        ("below the threshold", _rows(0.6)),
    ],
)
def test_trivial_rows_never_pass(label, make):
    assert judge(make).status in ("failed", "inconclusive"), label


def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive():
    r = judge(_rows(0.95))
    assert r.status == "passed" and r.seeds == 3 and r.low <= r.mean <= r.high
    assert "d'=64: 0.95" in SMOL[NAME].details(_seed_rows(_rows(0.95)))
    assert judge(_rows(0.95, control=0.4)).status == "inconclusive"
    assert judge(_rows(0.2)).status == "failed"


def _seed_rows(make):
    return {s: {n: make(n, 0.0) for n in runs} for s, runs in SMOL[NAME].runs_by_seed().items()}


def test_short_sentences_of_the_lee_corpus_under_a_tokenizer():
    """The pool: Lee sentences as written whose token count lies in the range (a stand-in tokenizer
    that counts words, checked against a plain loop)."""
    from seqlab.decode.recovery_smollm2 import lee_sentences_raw, short_sentences
    from seqlab.lm.interface import Encoded

    class Words:
        def encode(self, texts):
            n = [len(t.split()) for t in texts]
            mask = torch.tensor([[1] * k + [0] * (max(n) - k) for k in n])
            return Encoded(torch.zeros_like(mask), mask)

    raw = lee_sentences_raw()
    assert len(raw) > 1000 and all(s == s.strip() and s for s in raw)
    got = short_sentences(Words(), 3, 5)
    assert got == [s for s in raw if 3 <= len(s.split()) <= 5] and got
    with pytest.raises(ValueError, match="min_tokens"):
        short_sentences(Words(), 6, 5)
