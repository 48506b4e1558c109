"""Vocabulary, subsampling formula, unigram^0.75 negative sampling, phrase scores (1310.4546)."""

import math
from collections import Counter

import pytest
import torch

from seqlab.embed.vocab import (
    Phrases,
    Vocab,
    count_words,
    draw_negatives,
    keep_probability,
    negative_table,
    phrase_scores,
)


def test_vocab_min_count_order_and_encode():
    counts, total, n = count_words([["a", "b", "a"], ["c", "a", "b", "d"]])
    assert (total, n) == (7, 2)
    v = Vocab(counts, min_count=2)
    assert v.words == ["a", "b"] and v.counts.tolist() == [3.0, 2.0]
    assert v.encode(["d", "b", "a", "zz"]) == [1, 0]


def test_bad_corpora_and_min_count():
    with pytest.raises(ValueError, match="empty corpus"):
        count_words([[], []])
    with pytest.raises(TypeError, match="list of str tokens"):
        count_words(["a sentence as a string"])
    with pytest.raises(TypeError, match="tokens must be str"):
        count_words([["a", 3]])
    counts, _, _ = count_words([["a", "b"]])
    with pytest.raises(ValueError, match="leaves no vocabulary"):
        Vocab(counts, min_count=2)
    with pytest.raises(ValueError, match="min_count"):
        Vocab(counts, min_count=0)


def test_subsampling_formula_matches_direct_computation():
    counts = torch.tensor([1000.0, 100.0, 10.0, 1.0])
    t = 1e-2
    total = float(counts.sum())
    expected = []
    for c in counts.tolist():
        f = c / total
        expected.append(min(1.0, (math.sqrt(f / t) + 1) * t / f))
    got = keep_probability(counts, t)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64))
    assert got[0] < 0.2 and got[-1] == 1.0  # frequent words dropped, rare ones kept
    assert torch.equal(keep_probability(counts, 0.0), torch.ones(4, dtype=torch.float64))


def test_negative_sampling_follows_unigram_to_the_three_quarters():
    counts = torch.tensor([800.0, 200.0, 50.0, 10.0, 1.0])
    cum = negative_table(counts)
    gen = torch.Generator().manual_seed(0)
    n = 400_000
    draws = draw_negatives(cum, (n,), gen)
    freq = torch.bincount(draws, minlength=5).double() / n
    p = counts.double() ** 0.75
    p = p / p.sum()
    # binomial standard error sqrt(p(1-p)/n) <= 0.0008: 5 sigma
    assert torch.allclose(freq, p, atol=0.004), (freq, p)
    # and clearly not the raw unigram distribution
    raw = counts.double() / counts.sum()
    assert (freq[0] - raw[0]).abs() > 0.05


def test_phrase_score_formula_and_joining():
    sents = [["new", "york", "is", "big"], ["new", "york", "city"], ["new", "york"], ["is", "new"]] * 3
    scores = phrase_scores(sents, min_count=3, delta=2)
    uni = Counter(w for s in sents for w in s)
    bi = Counter(p for s in sents for p in zip(s, s[1:]))
    total = sum(uni.values())
    want = (bi[("new", "york")] - 2) / (uni["new"] * uni["york"]) * total
    assert scores[("new", "york")] == pytest.approx(want)
    ph = Phrases(min_count=3, threshold=want * 0.9, delta=2).fit(sents)
    assert ph.transform(["new", "york", "is", "new"]) == ["new_york", "is", "new"]
    assert list(ph([["new", "york"]])) == [["new_york"]]
    with pytest.raises(ValueError, match="threshold"):
        Phrases(threshold=0)
