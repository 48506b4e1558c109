import itertools
import math

import pytest
import torch

from seqlab.tokenize.sets import TokenSet


@pytest.mark.parametrize("vocab,n", [(1, 3), (3, 1), (4, 3), (5, 4)])
def test_bijection_exhaustively(vocab, n):
    ts = TokenSet(vocab, n)
    multisets = torch.tensor(list(itertools.combinations_with_replacement(range(vocab), n)))
    counts = ts.encode(multisets)
    assert (counts.sum(-1) == n).all() and (counts >= 0).all()
    assert counts.unique(dim=0).shape[0] == multisets.shape[0] == math.comb(vocab + n - 1, n)
    # every fixed-sum count vector is hit: enumerate them independently
    all_counts = {c for c in itertools.product(range(n + 1), repeat=vocab) if sum(c) == n}
    assert {tuple(r) for r in counts.tolist()} == all_counts
    assert torch.equal(ts.decode(counts), multisets)  # sorted canonical order
    assert torch.equal(ts.encode(ts.decode(counts)), counts)


def test_order_is_ignored_and_batches_work():
    ts = TokenSet(6, 5)
    g = torch.Generator().manual_seed(0)
    codes = torch.randint(6, (3, 4, 5), generator=g)
    shuffled = codes[..., torch.randperm(5, generator=g)]
    assert torch.equal(ts.encode(codes), ts.encode(shuffled))
    assert torch.equal(ts.decode(ts.encode(codes)), codes.sort(-1).values)


def test_bad_input_fails_clearly():
    ts = TokenSet(4, 3)
    with pytest.raises(ValueError, match="summing to 3"):
        ts.decode(torch.tensor([1, 1, 0, 0]))
    with pytest.raises(ValueError, match="summing to 3"):
        ts.decode(torch.tensor([4, -1, 0, 0]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        ts.encode(torch.tensor([0, 1, 4]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        ts.encode(torch.tensor([0, 1]))
