"""Word similarity (Spearman over in-vocabulary pairs) and 3CosAdd analogies against direct computations."""

import math

import pytest
import torch
from scipy.stats import spearmanr

from seqlab.embed import evaluate


class Toy:
    def __init__(self, words, vectors):
        self.key_to_index = {w: i for i, w in enumerate(words)}
        self.vectors = torch.tensor(vectors, dtype=torch.float32)


def test_rank_and_spearman_match_scipy_with_ties():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 6, (40,), generator=g).tolist()
    y = (torch.randn(40, generator=g) + torch.tensor(x) * 0.3).tolist()
    assert evaluate.spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert evaluate.rank([3, 1, 3, 2]) == [3.5, 1.0, 3.5, 2.0]


def test_word_similarity_counts_in_vocab_pairs_and_uses_cosine():
    m = Toy(["a", "b", "c", "d"], [[1, 0], [1, 0.1], [0, 1], [-1, 0.2]])
    pairs = [("a", "b", 9.0), ("a", "c", 5.0), ("a", "d", 1.0), ("a", "zzz", 3.0), ("b", "c", 4.0)]
    r = evaluate.word_similarity(m, pairs)
    assert (r["pairs_used"], r["pairs_total"]) == (4, 5)
    unit = m.vectors / m.vectors.norm(dim=1, keepdim=True)
    cos = [
        float(unit[0] @ unit[1]),
        float(unit[0] @ unit[2]),
        float(unit[0] @ unit[3]),
        float(unit[1] @ unit[2]),
    ]
    assert r["spearman"] == pytest.approx(spearmanr(cos, [9, 5, 1, 4]).statistic)
    assert math.isnan(evaluate.word_similarity(m, pairs[:2])["spearman"])


def test_word_similarity_stems_with_porter():
    m = Toy(["run", "dog", "cat"], [[1, 0], [0, 1], [0.1, 1]])
    pairs = [("running", "dogs", 1.0), ("dogs", "cats", 9.0), ("running", "cats", 2.0)]
    assert evaluate.word_similarity(m, pairs)["pairs_used"] == 0
    assert evaluate.word_similarity(m, pairs, stem=True)["pairs_used"] == 3


def test_analogy_3cosadd_against_a_plain_loop():
    g = torch.Generator().manual_seed(1)
    words = [f"w{i}" for i in range(30)]
    vecs = torch.randn(30, 8, generator=g)
    m = Toy(words, vecs.tolist())
    qs = [tuple(words[j] for j in torch.randperm(30, generator=g)[:4].tolist()) for _ in range(50)]
    qs.append(("w0", "w1", "unknown", "w2"))
    unit = vecs / vecs.norm(dim=1, keepdim=True)
    correct = 0
    for a, b, c, d in qs[:-1]:
        ia, ib, ic, id_ = (int(x[1:]) for x in (a, b, c, d))
        t = unit[ib] - unit[ia] + unit[ic]
        best, arg = -float("inf"), None
        for i in range(30):
            if i in (ia, ib, ic):
                continue
            s = float(unit[i] @ t) / float(t.norm())
            if s > best:
                best, arg = s, i
        correct += arg == id_
    r = evaluate.analogy_accuracy(m, {"sec": qs})
    assert (r["used"], r["total"], r["correct"]) == (50, 51, correct)
    # a planted analogy is solved
    v = torch.eye(4)
    v[3] = v[1] - v[0] + v[2]
    planted = Toy(["man", "king", "woman", "queen"], v.tolist())
    assert evaluate.analogy_accuracy(planted, [("man", "king", "woman", "queen")])["accuracy"] == 1.0
