import math

import pytest
import torch

from seqlab import registry
from seqlab.embed.denosent import pad_rows
from seqlab.embed.nugget import Nugget, nugget_count, select_nuggets

SENTS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog met on the mat",
    "the log was on the mat",
    "a dog saw the cat",
    "the cat saw a log",
]


def test_nugget_count_is_proportional_to_length():
    n = torch.tensor([1, 4, 5, 8, 20, 33])
    assert nugget_count(n, 0.25).tolist() == [max(1, math.ceil(x * 0.25)) for x in n.tolist()]
    assert nugget_count(n, 1.0).tolist() == n.tolist()
    with pytest.raises(ValueError, match="ratio"):
        nugget_count(n, 0.0)


def test_selection_keeps_the_top_scores_in_text_order():
    scores = torch.tensor(
        [[0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.0, 0.0], [5.0, 1.0, 4.0, 9.0, 0.0, 0.0, 0.0, 0.0]]
    )
    mask = torch.tensor([[1] * 8, [1, 1, 1, 0, 0, 0, 0, 0]]).bool()
    idx, used = select_nuggets(scores, mask, ratio=0.375)  # k = 3 and ceil(1.125) = 2
    assert used.tolist() == [[True, True, True], [True, True, False]]
    assert idx[0].tolist() == [1, 3, 5]
    assert idx[1][:2].tolist() == [0, 2]  # 9.0 at a padded position is never chosen


def test_scores_get_gradients_through_the_decoder_attention():
    torch.manual_seed(0)
    m = Nugget(d=16, layers=1, ratio=0.5, steps=1, batch_size=2, min_count=1).fit(SENTS)
    m.train()
    ids, mask = pad_rows([m.vocab.ids(s) for s in SENTS[:3]])
    m.zero_grad()
    m.loss(ids, mask).backward()
    assert m.scorer.weight.grad is not None and float(m.scorer.weight.grad.abs().sum()) > 0


def test_nugget_trains_and_returns_variable_size_nuggets():
    m = Nugget(d=16, layers=1, ratio=0.5, steps=40, batch_size=6, lr=3e-3, min_count=1, seed=0).fit(SENTS)
    assert m.history[-1] < m.history[0]
    (short, pos_s), (long_, pos_l) = m.nuggets(["a dog saw the cat", "a cat and a dog met on the mat"])
    assert short.shape == (3, 16) and long_.shape == (5, 16)
    assert pos_s == sorted(pos_s) and len(set(pos_l)) == 5
    assert m.encode(SENTS).shape == (6, 16)
    with pytest.raises(ValueError, match="not fitted"):
        Nugget().encode(["x"])
    assert registry.get("embedder", "nugget").implements[0].arxiv == "2310.01732"
