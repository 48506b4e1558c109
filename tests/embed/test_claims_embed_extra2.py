"""Criterion tests of the DenoSent claim: trivial rows never pass, a real effect can pass."""

import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.papers import TITLES
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_embed_extra2 import DENOSENT_RETRIEVAL, NUGGET_SELECTION
from seqlab.papers.status import STATUS


def judge(c, make, jitter=0.004):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def ret(deno, untrained=0.1, bag=0.1, control=1.0):
    return lambda n, j: {
        "denosent": deno - j,
        "untrained": untrained,
        "random_bag": bag,
        "control_clean": control,
        "chance": 0.005,
    }


def test_registered_with_catalog_title_and_judged():
    c = DENOSENT_RETRIEVAL
    assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
    for cell in c.runs:
        assert callable(get_experiment(cell.experiment))


def test_trivial_rows_never_pass():
    c = DENOSENT_RETRIEVAL
    assert judge(c, ret(0.005)).status != "passed"  # chance
    assert judge(c, ret(0.3)).status == "failed"  # below the threshold
    assert judge(c, ret(0.9, untrained=0.9)).status != "passed"  # untrained encoder as good
    assert judge(c, ret(0.9, bag=0.95)).status != "passed"  # bag of random vectors better
    assert judge(c, ret(0.9, control=0.5)).status == "inconclusive"  # embeddings not distinct


def test_good_row_passes():
    assert judge(DENOSENT_RETRIEVAL, ret(0.9)).status == "passed"


def test_top1_against_a_plain_loop():
    from seqlab.embed.experiments_extra2 import top1

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(30, 5, generator=g), torch.randn(30, 5, generator=g)
    hits = 0
    for i in range(30):
        sims = [float(q[i] @ k[j] / (q[i].norm() * k[j].norm())) for j in range(30)]
        hits += max(range(30), key=lambda j: sims[j]) == i
    assert top1(q, k) == pytest.approx(hits / 30)
    assert top1(k, k) == 1.0


def test_cell_rejects_too_many_sentences():
    with pytest.raises(ValueError, match="sentences with"):
        get_experiment("embed.denosent_denoise_retrieval")({"n": 10**6, "steps": 1}, 0)


def rec(selected, random_=5.7, first=5.7, untrained=17.0):
    return lambda n, j: {
        "selected_loss": selected + j,
        "random_loss": random_,
        "first_k_loss": first,
        "untrained_selected_loss": untrained,
    }


def test_nugget_registered_with_catalog_title_and_judged():
    c = NUGGET_SELECTION
    assert CLAIMS[c.name] is c and c.title in TITLES and c.title in STATUS
    for cell in c.runs:
        assert callable(get_experiment(cell.experiment))


def test_nugget_trivial_rows_never_pass():
    c = NUGGET_SELECTION
    assert judge(c, rec(5.7)).status != "passed"  # selection no better than random
    assert judge(c, rec(5.65)).status == "failed"  # gain 0.05 < 0.1
    assert judge(c, rec(5.5, first=5.4)).status != "passed"  # first-k does better
    assert judge(c, rec(5.5, untrained=6.0)).status == "inconclusive"  # autoencoder never learned


def test_nugget_good_row_passes():
    assert judge(NUGGET_SELECTION, rec(5.5)).status == "passed"


def test_subset_loss_matches_the_model_loss_for_its_own_selection():
    from seqlab.embed.experiments_extra2 import _subset_loss
    from seqlab.embed.nugget import Nugget

    sents = ["the cat sat on the mat today", "a dog ran in the park at noon", "the cat ran home"] * 3
    m = Nugget(d=16, layers=1, steps=3, batch_size=4, min_count=1, seed=0).fit(sents)
    rows = [m.vocab.ids(sents[0])]
    got = _subset_loss(m, rows, lambda i, n, k, s: s.topk(k).indices.tolist())
    from seqlab.embed.denosent import pad_rows

    with torch.no_grad():
        want = float(m.loss(*pad_rows(rows)))
    assert got == pytest.approx(want, rel=1e-5)
