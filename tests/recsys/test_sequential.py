import pytest
import torch

from seqlab.recsys import GRU4Rec, Popularity, SASRec, evaluate
from seqlab.recsys.sequential import right_pad
from seqlab.recsys.train import item_windows
from seqlab.registry import get


def test_item_windows_cover_every_target_once():
    for n in (2, 5, 7, 11, 23):
        seq = torch.arange(1, n + 1)
        wins = item_windows(seq, 4)
        assert len(wins) == -(-(n - 1) // 4)
        targets = sorted(int(t) for _, y in wins for t in y if t != 0)
        assert targets == list(range(2, n + 1))
        for x, y in wins:  # y is x shifted by one item, padding aligned
            real = x != 0
            assert torch.equal(y[real], x[real] + 1) and bool((y[~real] == 0).all())
    with pytest.raises(ValueError, match=">= 2 items"):
        item_windows(torch.tensor([3]), 4)


def test_right_pad_keeps_the_last_items():
    x, lens = right_pad([torch.tensor([1, 2, 3, 4, 5]), torch.tensor([7])], 3)
    assert x.tolist() == [[3, 4, 5], [7, 0, 0]] and lens.tolist() == [3, 1]


def test_popularity_ranks_by_training_counts(cycles):
    pop = Popularity().fit(cycles)
    counts = cycles.train_counts()
    top = pop.recommend([torch.tensor([1])], 5)[0]
    expected = sorted(range(2, 25), key=lambda i: (-int(counts[i]), i))[:5]  # item 1 is seen
    assert top.tolist() == expected


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_sequential_models_learn_a_deterministic_cycle(cls, cycles):
    m = cls(epochs=40, batch_size=16, lr=5e-3, max_len=8, seed=0).fit(cycles)
    res = evaluate(m, cycles)
    pop = evaluate(Popularity().fit(cycles), cycles)
    assert res["recall@10"] == 1.0 and res["ndcg@10"] > 0.9 > pop["ndcg@10"]
    assert m.losses[-1] < m.losses[0] and res["train_seconds"] > 0
    rec = m.recommend([torch.tensor([3, 4, 5])], 3)
    assert rec[0, 0] == 6 and not set(rec[0].tolist()) & {3, 4, 5}  # seen items excluded


def test_sasrec_is_the_papers_configuration():
    m = SASRec(seed=0)
    net = m.build(11)
    assert net.head.weight is net.embed.weight  # shared item embedding
    assert len(net.blocks) == 2 and net.d_model == 64 and net.blocks[0].mixer.n_heads == 1
    assert get("recommender", "sasrec").implements[0].arxiv == "1808.09781"
    assert get("recommender", "gru4rec").implements[0].arxiv == "1511.06939"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: Popularity().recommend([torch.tensor([1])], 3), "not fitted"),
        (lambda s: Popularity().fit(s).recommend([torch.tensor([], dtype=torch.long)], 3), "no history"),
        (lambda s: Popularity().fit(s).recommend([torch.tensor([99])], 3), "outside the catalogue"),
        (lambda s: Popularity().fit(s).recommend([torch.tensor([1])], 0), "k must be"),
        (lambda s: SASRec(epochs=0), "epochs must be"),
    ],
)
def test_bad_input_is_named(call, match, cycles):
    with pytest.raises(ValueError, match=match):
        call(cycles)
