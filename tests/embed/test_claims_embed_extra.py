"""Criterion tests of the extra embedding claims: trivial rows never pass, a real effect can pass."""

import pytest

from seqlab.experiments.cell import get_experiment
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_extra import FASTTEXT_OOV, PHRASE_RECOVERY, SENT2VEC_POLARITY
from seqlab.papers.status import STATUS

ALL = (FASTTEXT_OOV, PHRASE_RECOVERY, SENT2VEC_POLARITY)


def judge(c, make, jitter=0.004):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def oov(agree, rand=0.0, control=0.9):
    return lambda n, j: {
        "oov_agreement": agree + j,
        "random_agreement": rand + j,
        "invocab_agreement": control,
        "held": 40,
        "refs": 300,
    }


def phr(score, count=0.0, recoverable=1.0):
    return lambda n, j: {"score_precision": score - j, "count_precision": count, "recoverable": recoverable}


def pol(s2v, cbow, rand=0.5, bow=0.7):
    return lambda n, j: {"sent2vec": s2v + j, "cbow_mean": cbow, "random_mean": rand, "bow": bow}


@pytest.mark.parametrize("c", ALL, ids=lambda c: c.name)
def test_registered_with_catalog_titles_and_judged(c):
    assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
    for cell in c.runs:
        assert callable(get_experiment(cell.experiment))


def test_oov_claim_trivial_rows_never_pass():
    assert judge(FASTTEXT_OOV, oov(0.0)).status != "passed"  # random-level agreement
    assert judge(FASTTEXT_OOV, oov(0.3)).status == "failed"  # below the threshold
    assert judge(FASTTEXT_OOV, oov(0.7, rand=0.7)).status != "passed"  # no better than a random vector
    assert judge(FASTTEXT_OOV, oov(0.7, control=0.2)).status == "inconclusive"  # models do not agree at all


def test_oov_claim_can_pass():
    assert judge(FASTTEXT_OOV, oov(0.8, rand=0.05)).status == "passed"


def test_phrase_claim_trivial_rows_never_pass():
    assert judge(PHRASE_RECOVERY, phr(0.0)).status != "passed"  # finds no planted pair
    assert judge(PHRASE_RECOVERY, phr(0.5)).status == "failed"  # half the top bigrams are noise
    assert judge(PHRASE_RECOVERY, phr(0.9, count=0.9)).status != "passed"  # raw counts do as well
    assert judge(PHRASE_RECOVERY, phr(0.9, recoverable=0.5)).status == "inconclusive"  # pairs too rare


def test_phrase_claim_can_pass():
    assert judge(PHRASE_RECOVERY, phr(0.95)).status == "passed"


def test_phrase_cell_small_corpus_runs_and_is_a_precision():
    out = get_experiment("embed.phrase_recovery")({"tokens": 20_000, "vocab": 2000, "pairs": 10}, 0)
    for k in ("score_precision", "count_precision", "recoverable"):
        assert 0.0 <= out[k] <= 1.0
    assert out["score_precision"] > out["count_precision"]


def test_sent2vec_claim_trivial_rows_never_pass():
    assert judge(SENT2VEC_POLARITY, pol(0.7, 0.7)).status != "passed"  # no gain over averaged CBOW
    assert judge(SENT2VEC_POLARITY, pol(0.6, 0.7)).status == "failed"  # worse than averaged CBOW
    assert judge(SENT2VEC_POLARITY, pol(0.75, 0.7, rand=0.8)).status != "passed"  # random vectors do better
    assert judge(SENT2VEC_POLARITY, pol(0.75, 0.7, bow=0.5)).status == "inconclusive"  # nothing learnable


def test_sent2vec_claim_can_pass():
    assert judge(SENT2VEC_POLARITY, pol(0.76, 0.70)).status == "passed"


def test_oov_cell_small_run_agreement_beats_random():
    out = get_experiment("embed.fasttext_oov")(
        {"tokens": 30_000, "held": 8, "refs": 60, "dim": 20, "epochs": 1, "bucket": 20_000}, 0
    )
    assert out["held"] == 8 and out["refs"] == 60
    for k in ("oov_agreement", "random_agreement", "invocab_agreement"):
        assert -1.0 <= out[k] <= 1.0
    assert out["oov_agreement"] > out["random_agreement"]


def test_oov_cell_rejects_too_few_candidates():
    with pytest.raises(ValueError, match="candidate words"):
        get_experiment("embed.fasttext_oov")({"tokens": 2_000, "held": 500}, 0)


def test_cv_accuracy_separable_and_random_labels():
    import torch

    from seqlab.embed.experiments_extra import _cv_accuracy

    g = torch.Generator().manual_seed(0)
    y = torch.arange(100) % 2
    x = torch.randn(100, 5, generator=g) + 3.0 * y[:, None].float()
    assert _cv_accuracy(x, y, 5, torch.Generator().manual_seed(0)) > 0.95
    noise = torch.randn(100, 5, generator=g)
    assert _cv_accuracy(noise, y, 5, torch.Generator().manual_seed(0)) < 0.8
