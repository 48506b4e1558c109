"""Criterion tests of the embed-models claims: synthetic rows of trivial predictors never pass."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_models import KV_LEE, LMK_LONG


def judge(c, make, jitter=0.003):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def lmk(cls, mean, lmk_, short=0.8, random=0.1):
    return lambda j: (
        {
            "cls": cls,
            "mean": mean,
            "lmk": lmk_ + j,
            "mean_short": short,
            "random": random,
            "passage_tokens": 440.0,
        }
    )


def kv(kv_, last, mean, both, minilm=0.5, random=0.0):
    return lambda j: (
        {
            "kv": kv_ + j,
            "last": last,
            "mean": mean,
            "mean+last": both,
            "minilm_mean": minilm,
            "random": random,
            "layers": [20, 21],
            "layer_ids": [],
        }
    )


def test_claims_are_registered_with_cells_of_the_embed_package():
    assert CLAIMS["lmk_long_passages"] is LMK_LONG and CLAIMS["kv_embedding_lee"] is KV_LEE
    for c in (LMK_LONG, KV_LEE):
        assert {cell.kind for cell in c.runs} == {"embed"} and len(c.runs) == 3


@pytest.mark.parametrize(
    "make",
    [
        lmk(0.3, 0.5, 0.5),  # LMK = mean pooling: no gain
        lmk(0.6, 0.5, 0.55),  # LMK between CLS and mean
        lmk(0.05, 0.05, 0.05, random=0.05),  # everything at chance
        lmk(0.3, 0.5, 0.8, short=0.3),  # control missed: inconclusive, never passed
    ],
)
def test_lmk_trivial_rows_never_pass(make):
    assert judge(LMK_LONG, make).status != "passed"


@pytest.mark.parametrize(
    "make",
    [
        kv(0.4, 0.3, 0.4, 0.35),  # KV = best plain pooling
        kv(0.3, 0.2, 0.35, 0.4),  # KV below mean+last
        kv(0.0, 0.0, 0.0, 0.0),  # random-level embeddings
        kv(0.6, 0.3, 0.3, 0.3, minilm=0.1),  # control missed
    ],
)
def test_kv_trivial_rows_never_pass(make):
    assert judge(KV_LEE, make).status != "passed"


def test_both_criteria_can_pass_and_can_fail():
    assert judge(LMK_LONG, lmk(0.3, 0.5, 0.6)).status == "passed"
    assert judge(KV_LEE, kv(0.5, 0.3, 0.4, 0.42)).status == "passed"
    assert judge(LMK_LONG, lmk(0.3, 0.5, 0.4)).status == "failed"
    assert judge(KV_LEE, kv(0.3, 0.3, 0.4, 0.42)).status == "failed"
