"""Criterion tests of the PixelBytes and retrieval claims: trivial rows never pass, an effect can."""

from seqlab.experiments.cell import get_experiment
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_misc import (
    CONTINUOUS_RETRIEVAL,
    LMK_TRAINED,
    LMK_TRAINED_V2,
    LMK_V2_STEPS,
    PIXELBYTES_AR,
)
from seqlab.papers.status import STATUS


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def pb(ar, pred, pred_pixels=0.9, trivial=0.72, trivial_pixels=0.82):
    def make(n, j):
        row = {"pixel_acc": pred_pixels, "gen16": 0.5, "train_acc": 0.9, "first_loss": 5.0, "last_loss": 1.0}
        return {
            "predict": {**row, "acc": pred + j},
            "autoregressive": {**row, "acc": ar + 2 * j},
            "baselines": {"copy_above_gen16": 0.7},
            "best_trivial_acc": trivial,
            "best_trivial_pixel_acc": trivial_pixels,
        }

    return make


def ret(dense, bm25=0.76, rand=0.04, train=0.9):
    def make(n, j):
        m = lambda v: {"map": v, "recall@1": v, "recall@5": v, "recall@10": v}  # noqa: E731
        return {
            "dense": m(dense + j),
            "dense_exact": m(dense + j),
            "bm25": m(bm25),
            "random": m(rand),
            "dense_train": m(train),
        }

    return make


def test_registered_with_catalog_titles_and_judged():
    for c in (PIXELBYTES_AR, CONTINUOUS_RETRIEVAL, LMK_TRAINED, LMK_TRAINED_V2):
        assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
        for cell in c.runs:
            assert callable(get_experiment(cell.experiment))


def test_pixelbytes_trivial_rows_never_pass():
    assert judge(PIXELBYTES_AR, pb(0.80, 0.80)).status != "passed"  # no difference
    assert judge(PIXELBYTES_AR, pb(0.72, 0.72, 0.82)).status != "passed"  # both at the majority level
    assert judge(PIXELBYTES_AR, pb(0.70, 0.80)).status == "failed"  # the predictive model is better
    assert judge(PIXELBYTES_AR, pb(0.85, 0.80, pred_pixels=0.80)).status == "inconclusive"  # control missed


def test_pixelbytes_can_pass():
    assert judge(PIXELBYTES_AR, pb(0.83, 0.80)).status == "passed"


def test_retrieval_trivial_rows_never_pass():
    assert judge(CONTINUOUS_RETRIEVAL, ret(0.76)).status != "passed"  # equal to BM25
    assert judge(CONTINUOUS_RETRIEVAL, ret(0.04)).status == "failed"  # random level
    assert judge(CONTINUOUS_RETRIEVAL, ret(0.90, rand=0.95)).status != "passed"  # not above random
    assert judge(CONTINUOUS_RETRIEVAL, ret(0.90, train=0.3)).status == "inconclusive"  # did not learn


def test_retrieval_can_pass():
    assert judge(CONTINUOUS_RETRIEVAL, ret(0.90)).status == "passed"


def lmk(cls, mean, lmk_long, lmk_short=0.9):
    def make(n, j):
        row = lambda v: {"short": 0.9, "long": v, "last_loss": 0.1}  # noqa: E731
        return {
            "random": 0.01,
            "cls": row(cls),
            "mean": row(mean),
            "lmk": {**row(lmk_long + j), "short": lmk_short},
        }

    return make


def test_lmk_trivial_rows_never_pass():
    assert judge(LMK_TRAINED, lmk(0.3, 0.4, 0.4)).status != "passed"  # no gain over mean pooling
    assert judge(LMK_TRAINED, lmk(0.01, 0.01, 0.01)).status != "passed"  # all at random
    assert judge(LMK_TRAINED, lmk(0.3, 0.6, 0.4)).status == "failed"  # mean pooling is better
    assert judge(LMK_TRAINED, lmk(0.3, 0.4, 0.6, lmk_short=0.2)).status == "inconclusive"  # did not learn


def test_lmk_can_pass():
    assert judge(LMK_TRAINED, lmk(0.3, 0.4, 0.6)).status == "passed"


def test_lmk_v2_keeps_the_criterion_and_changes_only_the_budget():
    c = LMK_TRAINED_V2
    assert (c.threshold, c.null, c.direction) == (
        LMK_TRAINED.threshold,
        LMK_TRAINED.null,
        LMK_TRAINED.direction,
    )
    assert c.control.target == LMK_TRAINED.control.target == 0.5
    for s, cells in c.runs_by_seed().items():
        (cell,) = cells.values()
        assert cell.params == {"steps": LMK_V2_STEPS} and cell.seed == s


def test_lmk_v2_trivial_rows_never_pass_and_it_can_pass():
    assert judge(LMK_TRAINED_V2, lmk(0.3, 0.4, 0.4)).status != "passed"  # no gain over mean pooling
    assert judge(LMK_TRAINED_V2, lmk(0.01, 0.01, 0.01)).status != "passed"  # all at random
    assert judge(LMK_TRAINED_V2, lmk(0.3, 0.6, 0.4)).status == "failed"  # mean pooling is better
    assert (
        judge(LMK_TRAINED_V2, lmk(0.3, 0.4, 0.6, lmk_short=0.45)).status == "inconclusive"
    )  # control missed
    assert judge(LMK_TRAINED_V2, lmk(0.3, 0.4, 0.6)).status == "passed"
