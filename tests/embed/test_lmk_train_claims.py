"""Criterion of claim lmk_trained_long_inputs_v2 (same metric, threshold and control as v1, 1500 steps)."""

from seqlab.experiments.cell import get_experiment
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_misc import LMK_TRAINED, LMK_TRAINED_V2, LMK_V2_STEPS
from seqlab.papers.status import STATUS


def judge(make, jitter=0.002):
    runs = LMK_TRAINED_V2.runs_by_seed()
    return LMK_TRAINED_V2.judge({s: {n: make(i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def rows(cls, mean, lmk_long, lmk_short=0.9):
    def make(j):
        row = lambda v: {"short": 0.9, "long": v, "last_loss": 0.1}  # noqa: E731
        return {
            "random": 0.01,
            "cls": row(cls),
            "mean": row(mean),
            "lmk": {**row(lmk_long + j), "short": lmk_short},
        }

    return make


def test_v2_keeps_the_criterion_and_changes_only_the_budget():
    c = LMK_TRAINED_V2
    assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
    assert (c.threshold, c.null, c.direction) == (
        LMK_TRAINED.threshold,
        LMK_TRAINED.null,
        LMK_TRAINED.direction,
    )
    assert c.control.target == LMK_TRAINED.control.target == 0.5
    for s, cells in c.runs_by_seed().items():
        (cell,) = cells.values()
        assert (
            cell.params == {"steps": LMK_V2_STEPS}
            and cell.seed == s
            and callable(get_experiment(cell.experiment))
        )


def test_v2_trivial_rows_never_pass():
    assert judge(rows(0.3, 0.4, 0.4)).status != "passed"  # no gain over mean pooling
    assert judge(rows(0.01, 0.01, 0.01)).status != "passed"  # all at random
    assert judge(rows(0.3, 0.6, 0.4)).status == "failed"  # mean pooling is better
    assert judge(rows(0.3, 0.4, 0.6, lmk_short=0.45)).status == "inconclusive"  # control missed


def test_v2_can_pass():
    assert judge(rows(0.3, 0.4, 0.6)).status == "passed"
