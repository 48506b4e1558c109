import math

import pytest
import torch

from seqlab.recsys import DARE, Popularity, evaluate
from seqlab.recsys.dare import DAREModel


def test_attention_is_the_softmax_of_attention_table_scores_over_the_top_k():
    torch.manual_seed(0)
    m = DAREModel(12, d_att=4, d_repr=6, top_k=3)
    hist = torch.tensor([[3, 5, 7, 2, 9, 0]])  # one padding slot
    cand = torch.tensor([[4, 8]])
    w = m.attention(hist, cand)
    for c in range(2):
        a = m.att.weight.detach()
        s = [float(a[cand[0, c]] @ a[h]) / math.sqrt(4) for h in hist[0, :5]]
        keep = sorted(range(5), key=lambda j: -s[j])[:3]
        z = sum(math.exp(s[j]) for j in keep)
        ref = [math.exp(s[j]) / z if j in keep else 0.0 for j in range(5)] + [0.0]
        assert w[0, c].tolist() == pytest.approx(ref, abs=1e-6)


def test_decoupled_tables_separate_attention_from_representation():
    torch.manual_seed(0)
    m = DAREModel(12, d_att=4, d_repr=6, top_k=3)
    assert m.att is not m.repr and m.att.weight.shape == (12, 4)
    hist, cand = torch.tensor([[3, 5, 7, 2]]), torch.tensor([[4, 8, 1]])
    w = m.attention(hist, cand)
    with torch.no_grad():
        m.repr.weight.add_(torch.randn_like(m.repr.weight))
    assert torch.equal(m.attention(hist, cand), w)  # the representation table never moves the weights
    m(hist, cand).sum().backward()
    assert m.att.weight.grad[[3, 4]].abs().sum() > 0 and m.repr.weight.grad[[3, 4]].abs().sum() > 0
    shared = DAREModel(12, d_att=6, d_repr=6, decoupled=False)
    assert shared.att is shared.repr  # the coupled baseline: one table for both
    with pytest.raises(ValueError, match="d_att == d_repr"):
        DAREModel(12, d_att=4, d_repr=6, decoupled=False)


def test_dare_learns_the_cycle(make_cycles):
    split = make_cycles(num_items=30, users=60, length=12)
    m = DARE(epochs=30, batch_size=64, lr=1e-2, max_len=8, negatives=8, seed=0).fit(split)
    res, pop = evaluate(m, split), evaluate(Popularity().fit(split), split)
    assert res["recall@10"] > 0.9 > pop["recall@10"] and m.losses[-1] < m.losses[0]
    assert m.scores([torch.tensor([1, 2])]).shape == (1, 31)


@pytest.mark.parametrize("kwargs, match", [({"top_k": 0}, "top_k"), ({"negatives": 0}, "negatives")])
def test_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DARE(**kwargs)
