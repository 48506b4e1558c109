import math

import pytest
import torch

from seqlab.recsys import Popularity, evaluate
from seqlab.recsys.data import Interactions, leave_one_out
from seqlab.recsys.unirec import (
    UniRec,
    hour_weekday,
    interval_buckets,
    item_neighbours,
    non_uniformity,
)


def timed_cycle_split(num_items=40, users=40, length=12, seed=0):
    """Cycle walks (next item = last + 1); half the users at regular 60 s gaps, half irregular."""
    g = torch.Generator().manual_seed(seed)
    us, its, ts = [], [], []
    for u in range(users):
        start = int(torch.randint(0, num_items, (1,), generator=g))
        t = 1_000_000.0 * u
        for j in range(length):
            us.append(u), its.append((start + j) % num_items + 1), ts.append(t)
            t += 60.0 if u % 2 == 0 else float(10 ** int(torch.randint(0, 6, (1,), generator=g)))
    return leave_one_out(Interactions.from_triples(us, its, ts, num_items))


def test_interval_buckets_and_non_uniformity_match_the_formulas():
    times = torch.tensor([100.0, 100.0, 103.0, 1_103.0, 1e12])
    b = interval_buckets(times)
    gaps = [0.0, 3.0, 1000.0, 1e12 - 1103.0]
    ref = [0] + [1 + min(26, math.floor(math.log2(1 + d))) for d in gaps]
    assert b.tolist() == ref and b[-1] == 27  # the largest gap is clamped into the last bucket
    logs = [math.log1p(d) for d in gaps]
    m = sum(logs) / 4
    assert non_uniformity(times) == pytest.approx(math.sqrt(sum((v - m) ** 2 for v in logs) / 4))
    assert non_uniformity(torch.arange(6) * 60.0) == pytest.approx(0.0)  # regular gaps: uniform
    assert non_uniformity(torch.tensor([5.0])) == 0.0
    h, w = hour_weekday(torch.tensor([0.0, 3600 * 25.0]))
    assert h.tolist() == [0, 1] and w.tolist() == [0, 1]
    with pytest.raises(ValueError, match="non-decreasing"):
        interval_buckets(torch.tensor([5.0, 3.0]))
    with pytest.raises(ValueError, match="non-empty"):
        non_uniformity(torch.tensor([]))


def test_item_neighbours_are_the_most_frequent_adjacent_items():
    train = [torch.tensor([1, 2, 3, 2, 1]), torch.tensor([2, 3, 4])]
    nb = item_neighbours(train, 5, k=3)
    # plain count of adjacent pairs (both directions)
    counts = {}
    for s in train:
        for a, b in zip(s[:-1].tolist(), s[1:].tolist(), strict=True):
            counts[(a, b)] = counts.get((a, b), 0) + 1
            counts[(b, a)] = counts.get((b, a), 0) + 1
    for i in range(1, 6):
        ref = sorted(
            (j for j in range(1, 6) if counts.get((i, j), 0) > 0), key=lambda j: (-counts[(i, j)], j)
        )
        assert nb[i].tolist() == (ref + [0, 0, 0])[:3]
    assert nb[5].tolist() == [0, 0, 0] and nb[0].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="ints >= 1"):
        item_neighbours(train, 5, k=0)


def test_frequency_enhancement_adds_the_neighbour_aggregate_to_tail_items_only():
    split = timed_cycle_split()
    m = UniRec(epochs=1, batch_size=16, max_len=8, lr=1e-2).fit(split)
    net = m.model
    with torch.no_grad():
        net.agg.weight.copy_(torch.eye(net.agg.weight.shape[0]) * 0.5)
        net.tail[3] = True
        net.tail[4] = False
        table = net.item_table()
        e = net.items.weight
        nb = [j for j in net.neighbours[3].tolist() if j]
        assert nb
        assert torch.allclose(table[3], e[3] + 0.5 * e[nb].mean(0), atol=1e-6)
        assert torch.equal(table[4], e[4])
    counts = torch.tensor([0, 1, 2, 3, 10, 50])
    assert UniRec.tail_items(counts, 0.5).tolist() == [False, True, True, False, False, False]


def test_unirec_learns_cycles_beats_popularity_and_needs_times():
    split = timed_cycle_split()
    m = UniRec(epochs=25, batch_size=16, max_len=8, lr=1e-2, seed=0).fit(split)
    assert m.losses[-1] < m.losses[0]
    assert m.uniformity_threshold is not None
    res = evaluate(m, split)
    assert res["recall@10"] >= 0.9 > evaluate(Popularity().fit(split), split)["recall@10"]
    hist = split.history()[:2]
    with pytest.raises(ValueError, match="timestamps"):
        m.scores(hist)
    with pytest.raises(ValueError, match="needs 3 timestamps"):
        m.scores([hist[0][:3]], times=[torch.tensor([1.0, 2.0])])
    with pytest.raises(ValueError, match="no history"):
        m.scores([torch.tensor([], dtype=torch.long)], times=[torch.tensor([])])
    with pytest.raises(ValueError, match="outside the catalogue"):
        m.scores([torch.tensor([99])], times=[torch.tensor([1.0])])
    assert m.is_non_uniform(split.history_times()[1]) and not m.is_non_uniform(split.history_times()[0])


def test_unirec_rejects_a_split_without_times_and_bad_settings():
    split = timed_cycle_split()
    split.train_times = None
    with pytest.raises(ValueError, match="timestamps"):
        UniRec(epochs=1).fit(split)
    with pytest.raises(ValueError, match="drop"):
        UniRec(drop=1.0)
    with pytest.raises(ValueError, match="epochs"):
        UniRec(epochs=0)
