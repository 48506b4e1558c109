"""Hierarchical softmax: the Huffman tree vs a direct construction, the step vs autograd, training."""

import itertools

import pytest
import torch

from seqlab.embed.huffman import HuffmanTree, hs_step
from seqlab.embed.word2vec import Word2Vec


def toy_corpus(n=300):
    """Sentences of 12 words from one of two disjoint 6-word topics (alternating)."""
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 6, (n, 12), generator=g).tolist()
    return [[("a" if k % 2 == 0 else "b") + str(j) for j in row] for k, row in enumerate(idx)]


def direct_huffman_lengths(counts):
    """Code lengths by the textbook loop: merge the two lightest groups; each member's length += 1."""
    groups = [(c, [i]) for i, c in enumerate(counts)]
    lengths = [0] * len(counts)
    while len(groups) > 1:
        groups.sort(key=lambda g: g[0])
        (c1, m1), (c2, m2) = groups[0], groups[1]
        for i in m1 + m2:
            lengths[i] += 1
        groups = groups[2:] + [(c1 + c2, m1 + m2)]
    return lengths


@pytest.mark.parametrize(
    "counts", [[5, 9, 12, 13, 16, 45], [1, 1], [7, 3, 3, 2, 1, 1, 1], [2**k for k in range(8)], [3] * 9]
)
def test_tree_is_an_optimal_prefix_code(counts):
    tree = HuffmanTree(torch.tensor(counts, dtype=torch.float64))
    lengths = tree.lengths.tolist()
    # optimal cost: equal to the textbook construction's (ties may change single lengths, not the cost)
    want = direct_huffman_lengths(counts)
    assert sum(c * n for c, n in zip(counts, lengths)) == sum(c * n for c, n in zip(counts, want))
    # a full binary tree: Kraft sum exactly 1, codes prefix-free, V-1 inner nodes all used, root first
    assert sum(2.0**-n for n in lengths) == pytest.approx(1.0)
    codes = [tree.code_of(w) for w in range(len(counts))]
    for a, b in itertools.permutations(codes, 2):
        assert not b.startswith(a)
    used = set(tree.points[tree.mask].tolist())
    assert used == set(range(len(counts) - 1))
    assert (tree.points[:, 0] == len(counts) - 2).all()
    # heavier words never get longer codes
    for i, j in itertools.permutations(range(len(counts)), 2):
        if counts[i] > counts[j]:
            assert lengths[i] <= lengths[j]


def test_tree_classic_example_and_bad_input():
    # the textbook example (CLRS): counts 45,13,12,16,9,5 -> lengths 1,3,3,3,4,4
    tree = HuffmanTree([45, 13, 12, 16, 9, 5])
    assert tree.lengths.tolist() == [1, 3, 3, 3, 4, 4]
    with pytest.raises(ValueError, match="at least 2 words"):
        HuffmanTree([3])
    with pytest.raises(ValueError, match="positive"):
        HuffmanTree([3, 0])


def test_leaf_probabilities_sum_to_one():
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(1, 50, (11,), generator=g).double()
    tree = HuffmanTree(counts)
    w_hs, h = torch.randn(10, 6, generator=g), torch.randn(6, generator=g)
    score = w_hs[tree.points] @ h  # (V, L)
    sign = 1 - 2 * tree.codes
    logp = (torch.nn.functional.logsigmoid(sign * score) * tree.mask).sum(1)
    assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_hs_step_is_sgd_on_the_hierarchical_softmax_objective():
    g = torch.Generator().manual_seed(1)
    tree = HuffmanTree([30, 20, 10, 8, 5, 3, 2])
    w_hs, h = torch.randn(6, 4, generator=g), torch.randn(5, 4, generator=g)
    targets = torch.tensor([0, 6, 3, 6, 1])  # word 6 twice: its inner-node updates add up
    lr = 0.05
    wh, hh = w_hs.clone().requires_grad_(), h.clone().requires_grad_()
    obj = 0
    for b, t in enumerate(targets.tolist()):
        for j in range(int(tree.lengths[t])):
            n, c = int(tree.points[t, j]), float(tree.codes[t, j])
            obj = obj + torch.nn.functional.logsigmoid((1 - 2 * c) * (wh[n] @ hh[b]))
    obj.backward()
    new = w_hs.clone()
    grad_h, loss = hs_step(new, tree, h, targets, lr, with_loss=True)
    assert loss == pytest.approx(-obj.item(), rel=1e-5)
    assert torch.allclose(new, w_hs + lr * wh.grad, atol=1e-6)
    assert torch.allclose(grad_h, lr * hh.grad, atol=1e-6)


@pytest.mark.parametrize("sg", [True, False])
def test_hs_training_separates_topics_and_roundtrips(sg, tmp_path):
    m = Word2Vec(sg=sg, hs=1, negative=0, vector_size=16, window=3, min_count=1, epochs=5, sample=0, seed=0)
    m.fit(toy_corpus())
    assert m.w_hs.shape == (11, 16) and m.w_hs.abs().sum() > 0 and m.w_out.abs().sum() == 0
    within = sum(m.similarity(f"a{i}", f"a{(i + 1) % 6}") for i in range(6)) / 6
    across = sum(m.similarity(f"a{i}", f"b{i}") for i in range(6)) / 6
    assert within > across + 0.3, (within, across)
    m.save(tmp_path / "hs")
    back = Word2Vec.load(tmp_path / "hs")
    assert back.hs == 1 and torch.equal(back.w_hs, m.w_hs) and torch.equal(back.vectors, m.vectors)


def test_hs_with_negative_sampling_trains_both_output_layers():
    m = Word2Vec(hs=1, negative=2, vector_size=8, window=2, min_count=1, epochs=1, sample=0, seed=0)
    m.fit(toy_corpus(n=40))
    assert m.w_hs.abs().sum() > 0 and m.w_out.abs().sum() > 0


def test_hs_bad_input():
    with pytest.raises(ValueError, match="negative must be an int >= 1"):
        Word2Vec(negative=0)  # no hierarchical softmax: negative sampling is the only output layer
    with pytest.raises(ValueError, match="hs must be 0"):
        Word2Vec(hs=2)
    with pytest.raises(ValueError, match="at least 2 words"):
        Word2Vec(hs=1, negative=0, min_count=1).fit([["a", "a"]])
