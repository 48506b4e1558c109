import math

import pytest
import torch

from seqlab.recsys.metrics import (
    mask_seen,
    ndcg_at,
    ranks_from_lists,
    ranks_from_scores,
    recall_at,
    summarize,
)


def _rank_by_sort(row: list[float], target: int) -> int:
    order = sorted(range(len(row)), key=lambda j: (-row[j], j))  # descending, ties by lower id
    return order.index(target)


def test_ranks_from_scores_match_a_stable_sort():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 5, (30, 12), generator=g).float()  # many ties
    targets = torch.randint(1, 12, (30,), generator=g)
    ranks = ranks_from_scores(scores, targets)
    assert ranks.tolist() == [_rank_by_sort(r, int(t)) for r, t in zip(scores.tolist(), targets, strict=True)]


def test_recall_and_ndcg_match_their_formulas():
    ranks = torch.tensor([0.0, 3.0, 9.0, 10.0, 25.0, math.inf])
    for k in (1, 10, 20):
        hits = [r for r in ranks.tolist() if r < k]
        assert recall_at(ranks, k) == pytest.approx(len(hits) / 6)
        assert ndcg_at(ranks, k) == pytest.approx(sum(1 / math.log2(r + 2) for r in hits) / 6)
    assert set(summarize(ranks)) == {"recall@10", "ndcg@10", "recall@20", "ndcg@20"}
    assert ndcg_at(torch.tensor([0.0]), 10) == 1.0


def test_mask_seen_keeps_the_target_and_drops_padding():
    s = torch.arange(6.0)[None].repeat(2, 1)
    m = mask_seen(s, [[5, 4], [1]], keep=torch.tensor([4, 2]))
    assert m[0].tolist() == [-math.inf, 1, 2, 3, 4, -math.inf]
    assert m[1].tolist() == [-math.inf, -math.inf, 2, 3, 4, 5]
    assert ranks_from_scores(m, torch.tensor([4, 2])).tolist() == [0.0, 3.0]


def test_ranks_from_lists():
    lists = torch.tensor([[3, 1, 2], [2, 3, 4]])
    assert ranks_from_lists(lists, torch.tensor([2, 1]), 4).tolist() == [2.0, math.inf]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ranks_from_scores(torch.zeros(2, 5), torch.tensor([1, 5])), "catalogue 1..4"),
        (lambda: ranks_from_scores(torch.zeros(2, 5), torch.tensor([1])), "score rows"),
        (lambda: ranks_from_scores(torch.full((1, 3), math.nan), torch.tensor([1])), "NaN"),
        (lambda: ranks_from_lists(torch.tensor([[1, 9]]), torch.tensor([1]), 4), "ranked item ids"),
        (lambda: ranks_from_lists(torch.tensor([1, 2]), torch.tensor([1]), 4), "topk must be"),
        (lambda: recall_at(torch.zeros(3), 0), "k must be"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
