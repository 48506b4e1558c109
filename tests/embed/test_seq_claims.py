"""Criterion tests of the sequence-representation claims: synthetic rows of trivial predictors never pass."""

import pytest

from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_seq import CATEGORICAL, CONTINUITY, HVM_LZ, SORTING


def judge(c, make, jitter=0.003):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def hvm(ratio, raw=1.4, zl=0.55, recall=1.0):
    lz = 6000.0
    return lambda j: {
        "hvm": (ratio + j) * lz,
        "hvm_novar": ratio * lz,
        "lz78": lz,
        "zlib": zl * lz,
        "raw_kt": raw * lz,
        "easy_recall": recall,
        "hvm_units": 250,
        "hvm_entries": 50,
        "hvm_variables": 0,
    }


def probe(pre, rand, raw=0.35, chance=0.25, control=0.9):
    return lambda j: {
        "pretrained": pre + j,
        "random_init": rand,
        "raw": raw,
        "chance": chance,
        "pretext_acc": control,
        "justify_acc": control,
        "locate_acc": 0.9,
        "missing_acc": 0.3,
    }


def cat(comp, free, mode=0.2, chance=0.083, control=1.0):
    return lambda j: {
        "categorical": comp + j,
        "free": free,
        "mode": mode,
        "chance": chance,
        "categorical_generators": control,
        "free_generators": 1.0,
        "free_composition_error": 2.0,
    }


def test_claims_are_registered_with_embed_cells():
    for c in (HVM_LZ, SORTING, CONTINUITY, CATEGORICAL):
        assert CLAIMS[c.name] is c
        assert {cell.kind for cell in c.runs} == {"embed"} and len(c.runs) == 3


@pytest.mark.parametrize(
    "make",
    [
        hvm(1.0),  # as good as LZ78
        hvm(0.6, zl=0.5),  # beats LZ78 but not zlib
        hvm(1.5, raw=1.4),  # worse than coding the raw atoms
        hvm(0.3, recall=0.5),  # control missed
    ],
)
def test_hvm_trivial_rows_never_pass(make):
    assert judge(HVM_LZ, make).status != "passed"


@pytest.mark.parametrize("claim", [SORTING, CONTINUITY])
@pytest.mark.parametrize(
    "make",
    [
        probe(0.5, 0.5),  # no gain over random init
        probe(0.25, 0.25, raw=0.25),  # everything at chance
        probe(0.6, 0.5, raw=0.7),  # below the raw-window probe
        probe(0.9, 0.5, control=0.1),  # pretext never learned: inconclusive
    ],
)
def test_pretext_trivial_rows_never_pass(claim, make):
    assert judge(claim, make).status != "passed"


@pytest.mark.parametrize(
    "make",
    [
        cat(0.2, 0.2),  # no gain
        cat(0.3, 0.1, mode=0.4),  # below the most-frequent-target predictor
        cat(0.083, 0.083, mode=0.083),  # chance
        cat(0.9, 0.2, control=0.5),  # the model does not fit the generators
    ],
)
def test_categorical_trivial_rows_never_pass(make):
    assert judge(CATEGORICAL, make).status != "passed"


def test_each_criterion_can_pass_and_can_fail():
    assert judge(HVM_LZ, hvm(0.5)).status == "passed"
    assert judge(HVM_LZ, hvm(0.95, raw=1.4, zl=1.2)).status == "failed"
    for c in (SORTING, CONTINUITY):
        assert judge(c, probe(0.7, 0.5)).status == "passed"
        assert judge(c, probe(0.5, 0.5)).status == "failed"
    assert judge(CATEGORICAL, cat(0.9, 0.2)).status == "passed"
    assert judge(CATEGORICAL, cat(0.25, 0.2)).status == "failed"
