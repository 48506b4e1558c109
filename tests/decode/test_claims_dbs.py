"""Diverse Beam Search claim: its experiment's helpers against plain loops, and its criterion."""

import math

import pytest
import torch

from seqlab.decode.dbs_experiment import continuation, distinct_n, sequence_logprob
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode_dbs import CLAIMS as DBS


def _rows(gain, beam=0.2, ppl=60.0, uni=130.0):
    def make(run, j):
        return {
            "perplexity": ppl,
            "unigram_perplexity": uni,
            "distinct2_beam": beam,
            "distinct2_dbs": beam + gain + j,
            "gain_distinct2": gain + j,
            "logprob_beam": -12.0,
            "logprob_dbs": -13.0,
            "logprob_cost": 1.0,
        }

    return make


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def test_discovered_with_a_decode_cell():
    assert set(DBS) == {"dbs_distinct2"} and CLAIMS["dbs_distinct2"] is DBS["dbs_distinct2"]
    assert DBS["dbs_distinct2"].make_runs(0)["dbs"].kind == "decode"


@pytest.mark.parametrize(
    "label,make",
    [
        ("beam search itself (gain 0)", _rows(0.0)),
        ("less diverse", _rows(-0.05)),
        ("below the threshold", _rows(0.02)),
        ("LM no better than unigram", _rows(0.1, ppl=128.0)),
    ],
)
def test_trivial_rows_never_pass(label, make):
    assert judge(DBS["dbs_distinct2"], make).status in ("failed", "inconclusive"), label


def test_the_criterion_can_pass_and_a_missed_control_is_inconclusive():
    r = judge(DBS["dbs_distinct2"], _rows(0.1))
    assert r.status == "passed" and r.seeds == 3 and r.low <= r.mean <= r.high, r.figure
    assert judge(DBS["dbs_distinct2"], _rows(0.1, ppl=128.0)).status == "inconclusive"


def test_distinct_n_and_continuation_against_hand_counts():
    assert continuation([0, 5, 6, 7, 1, 1, 1], 2, 1) == [6, 7, 1]
    assert continuation([0, 5, 6, 7], 1, 1) == [5, 6, 7]
    # bigrams: (3,4),(4,5),(3,4),(4,6) -> 3 distinct of 4
    assert distinct_n([[3, 4, 5], [3, 4, 6]], 2) == pytest.approx(0.75)
    assert distinct_n([[3], [4]], 2) == 0.0
    assert distinct_n([[3, 4, 5]], 1) == 1.0


def test_sequence_logprob_against_a_token_by_token_loop():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(9, 9)

    def lm(x):  # a causal toy model: logits depend on the current token only
        return emb(x)

    prompt, cont = [0, 4], [5, 6, 1]
    want, seq = 0.0, list(prompt)
    for t in cont:
        logits = lm(torch.tensor([seq]))[0, -1].detach()
        want += float(torch.log_softmax(logits, -1)[t])
        seq.append(t)
    assert sequence_logprob(lm, prompt, cont) == pytest.approx(want, abs=1e-5)
    assert math.isfinite(want) and want < 0


def test_the_cell_runs_small_and_its_figures_are_consistent():
    from seqlab.decode.dbs_experiment import dbs_experiment

    r = dbs_experiment({"vocab": 50, "lm_steps": 10, "prompts": 2, "max_new_tokens": 4}, 0)
    assert r["gain_distinct2"] == pytest.approx(r["distinct2_dbs"] - r["distinct2_beam"])
    assert r["logprob_cost"] == pytest.approx(r["logprob_beam"] - r["logprob_dbs"])
    assert all(0.0 <= r[f"distinct2_{a}"] <= 1.0 for a in ("beam", "dbs"))
    assert r["logprob_dbs"] < 0 and r["perplexity"] > 1
