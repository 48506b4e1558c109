"""Concept geometry (arXiv 2406.01506): causal inner product, concept vectors, hierarchy measures."""

from __future__ import annotations

import pytest
import torch

from seqlab.probe.concepts import (
    causal_unembedding,
    concept_vector,
    heldout_auc,
    hierarchy_cosines,
    load_hierarchy,
    shuffle_hierarchy,
    sibling_cosines,
)
from seqlab.probe.concepts_experiment import concept_geometry_of, split_words


def test_causal_unembedding_whitens():
    gen = torch.Generator().manual_seed(0)
    gamma = (
        torch.randn(500, 6, generator=gen, dtype=torch.float64)
        @ torch.randn(6, 6, generator=gen, dtype=torch.float64)
        + 3
    )
    g, A, mean = causal_unembedding(gamma)
    torch.testing.assert_close(g.mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(g.T @ g / 500, torch.eye(6, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(A, A.T)
    cov = (gamma - mean).T @ (gamma - mean) / 500
    torch.testing.assert_close(A @ A @ cov, torch.eye(6, dtype=torch.float64), atol=1e-8, rtol=0)


def test_concept_vector_is_the_lda_direction_scaled_to_the_mean_projection():
    m = torch.tensor([1.0, 2.0], dtype=torch.float64)
    s, t = 0.5, 2.0
    words = torch.stack(
        [m + torch.tensor(d, dtype=torch.float64) for d in ([s, 0], [-s, 0], [0, t], [0, -t])]
    )
    direction = torch.stack([m[0] / (s**2 / 2), m[1] / (t**2 / 2)])  # Cov = diag(s^2/2, t^2/2)
    direction = direction / direction.norm()
    torch.testing.assert_close(concept_vector(words), (direction @ m) * direction)
    with pytest.raises(ValueError, match=">= 2 word vectors"):
        concept_vector(words[:1])


def toy_hierarchy():
    return {"a": {"x": [0, 1, 2, 3], "y": [4, 5, 6, 7]}, "b": {"z": [8, 9, 10], "w": [11, 12, 13, 14]}}


def test_hierarchy_and_sibling_cosines_follow_their_definition():
    g = torch.randn(20, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    h = toy_hierarchy()
    cos = hierarchy_cosines(g, h)
    assert set(cos) == {"a>x", "a>y", "b>z", "b>w"}
    parent = concept_vector(g[[0, 1, 2, 3, 4, 5, 6, 7]])
    diff = concept_vector(g[[4, 5, 6, 7]]) - parent
    assert cos["a>y"] == pytest.approx(float(parent @ diff / (parent.norm() * diff.norm())))
    sib = sibling_cosines(g, h)
    d2 = concept_vector(g[[0, 1, 2, 3]]) - concept_vector(g[[4, 5, 6, 7]])
    assert sib["a>x-y"] == pytest.approx(float(parent @ d2 / (parent.norm() * d2.norm())))


def test_shuffle_keeps_the_tree_and_the_words():
    h = toy_hierarchy()
    s = shuffle_hierarchy(h, torch.Generator().manual_seed(0))
    assert {t: {k: len(v) for k, v in subs.items()} for t, subs in s.items()} == {
        t: {k: len(v) for k, v in subs.items()} for t, subs in h.items()
    }
    assert sorted(i for subs in s.values() for v in subs.values() for i in v) == list(range(15))
    assert s != h


def test_heldout_auc_separated_and_mixed():
    gen = torch.Generator().manual_seed(0)
    centers = torch.eye(4, dtype=torch.float64)[:3] * 5 + 1
    g = torch.cat([c + 0.1 * torch.randn(200, 4, generator=gen, dtype=torch.float64) for c in centers])
    train = {f"c{k}": list(range(200 * k, 200 * k + 190)) for k in range(3)}  # enough words for Cov^-1
    test = {f"c{k}": list(range(200 * k + 190, 200 * k + 200)) for k in range(3)}
    assert heldout_auc(g, train, test) == 1.0
    noise = torch.randn(300, 4, generator=gen, dtype=torch.float64)
    train = {f"c{k}": list(range(100 * k, 100 * k + 70)) for k in range(3)}
    test = {f"c{k}": list(range(100 * k + 70, 100 * k + 100)) for k in range(3)}
    assert abs(heldout_auc(noise, train, test) - 0.5) < 0.15


class FakeTokenizer:
    def encode(self, text, add_special_tokens=False):
        return [0] if len(text) <= 5 else [0, 1]  # words of <= 4 letters are one token


def test_shipped_hierarchy_and_tokenizer_filter():
    h = load_hierarchy()
    assert len(h) == 3 and all(len(subs) == 4 for subs in h.values())
    assert all(len(words) == 25 and len(set(words)) == 25 for subs in h.values() for words in subs.values())
    short = load_hierarchy(FakeTokenizer())
    assert short["animal"]["mammal"] == [w for w in h["animal"]["mammal"] if len(w) <= 4]


def test_experiment_measures_on_a_planted_geometry():
    """Words of a leaf share a leaf direction and their category's direction (plus noise)."""
    gen = torch.Generator().manual_seed(0)
    d, vocab = 24, 400
    gamma = torch.randn(vocab, d, generator=gen, dtype=torch.float64)
    ids, k = {}, 0
    for top in range(2):
        ids[f"t{top}"] = {}
        for sub in range(3):
            ids[f"t{top}"][f"s{top}{sub}"] = list(range(k, k + 10))
            k += 10
    r = concept_geometry_of(gamma, ids, 0.8, seed=0)
    assert set(r) >= {"abs_cos", "shuffled_abs_cos", "raw_abs_cos", "heldout_auc", "sibling_abs_cos"}
    assert 0 <= r["abs_cos"] <= 1 and r["words"] == 6 * 8
    train, test = split_words(ids, 0.8, torch.Generator().manual_seed(0))
    assert all(len(v) == 8 for subs in train.values() for v in subs.values())
    assert all(len(v) == 2 for v in test.values())


def test_bad_unembedding():
    with pytest.raises(ValueError, match=r"\(V, d\)"):
        causal_unembedding(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="singular"):
        causal_unembedding(torch.ones(50, 3))
