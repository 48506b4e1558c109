"""Sent2Vec n-gram dropout: the drawn positions, the dropped bigrams, the batch update vs autograd."""

import itertools
import random
from collections import Counter

import pytest
import torch

from seqlab.embed.sent2vec import Sent2Vec, dropped_bigrams, dropped_positions
from seqlab.embed.vocab import draw_negatives, negative_table


def reference_drop(n, k, rng):
    """The reference code's rule, as a plain loop: draw positions until k distinct or only 2 would remain."""
    chosen = set()
    while len(chosen) < k and n - len(chosen) > 2:
        chosen.add(rng.randrange(n))
    return chosen


def test_dropped_positions_sizes_and_range():
    lengths = torch.tensor([0, 1, 2, 3, 4, 5, 9, 30])
    out = dropped_positions(lengths, 3, torch.Generator().manual_seed(0))
    assert out.shape == (8, 3)
    for n, row in zip(lengths.tolist(), out.tolist()):
        got = [p for p in row if p >= 0]
        assert len(got) == min(3, max(n - 2, 0)) == len(set(got))
        assert all(0 <= p < n for p in got)
        assert row[len(got) :] == [-1] * (3 - len(got))


def test_dropped_positions_are_uniform_subsets_like_the_reference():
    n, k, rows = 6, 2, 30000
    out = dropped_positions(torch.full((rows,), n), k, torch.Generator().manual_seed(1))
    ours = Counter(tuple(sorted(r)) for r in out.tolist())
    rng = random.Random(1)
    ref = Counter(tuple(sorted(reference_drop(n, k, rng))) for _ in range(rows))
    subsets = list(itertools.combinations(range(n), k))
    assert set(ours) == set(ref) == set(subsets)
    for s in subsets:  # each of the 15 subsets has probability 1/15 (sd of a frequency ~0.0021)
        assert ours[s] / rows == pytest.approx(1 / 15, abs=0.01)
        assert ref[s] / rows == pytest.approx(1 / 15, abs=0.01)


def test_dropped_bigrams_match_a_plain_loop():
    g = torch.Generator().manual_seed(2)
    lengths = torch.randint(0, 9, (200,), generator=g)
    pos = dropped_positions(lengths, 2, g)
    big = dropped_bigrams(pos, lengths)
    for n, p, b in zip(lengths.tolist(), pos.tolist(), big.tolist()):
        want = {j for j in range(n - 1) if j in p or j + 1 in p}
        got = [j for j in b if j >= 0]
        assert len(got) == len(set(got)) and set(got) == want


def test_batch_update_with_dropout_matches_autograd():
    m = Sent2Vec(min_count=1, bucket=7, epochs=1, vector_size=5, sample=0, negative=3, seed=0, dropout_k=2)
    m.fit([["a", "b", "c", "d", "e"], ["b", "c"]])
    batch = [[0, 1, 2, 3, 4], [1, 2, 4], [3]]
    w_in, w_out = m.w_in.clone(), m.w_out.clone()
    cum = negative_table(m.vocab.counts, 0.5)
    lr = 0.1
    m._train_batch(batch, torch.ones(5), cum, torch.Generator().manual_seed(9), lr)
    # replay the draws: subsampling, then the dropped positions per target, then the noise words
    gen = torch.Generator().manual_seed(9)
    lens = torch.tensor([5] * 5 + [3] * 3)
    torch.rand(len(lens), generator=gen)
    drop = dropped_bigrams(dropped_positions(lens, 2, gen), lens)
    neg = draw_negatives(cum, (len(lens), 3), gen)
    assert (drop >= 0).any()  # some bigrams are dropped
    a, b = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    obj, k = 0, 0
    for ids in batch[:2]:
        feats = m.features(ids)
        for j, t in enumerate(ids):
            gone = {j} | {len(ids) + x for x in drop[k].tolist() if x >= 0}
            ctx = [f for i, f in enumerate(feats) if i not in gone]
            h = a[ctx].mean(0)
            obj = obj + torch.nn.functional.logsigmoid(b[t] @ h)
            for n in neg[k].tolist():
                if n != t:
                    obj = obj + torch.nn.functional.logsigmoid(-(b[n] @ h))
            k += 1
    obj.backward()
    assert torch.allclose(m.w_out, w_out + lr * b.grad, atol=1e-6)
    assert torch.allclose(m.w_in, w_in + lr * a.grad, atol=1e-6)


def test_dropout_is_saved_and_validated(tmp_path):
    m = Sent2Vec(min_count=1, bucket=5, epochs=1, vector_size=4, dropout_k=3).fit([["a", "b", "c", "d"]])
    m.save(tmp_path / "s")
    assert Sent2Vec.load(tmp_path / "s").dropout_k == 3
    assert Sent2Vec().dropout_k == 2  # the reference code's default
    with pytest.raises(ValueError, match="dropout_k must be an int >= 0"):
        Sent2Vec(dropout_k=-1)
    with pytest.raises(ValueError, match="negative sampling only"):
        Sent2Vec(hs=1)
