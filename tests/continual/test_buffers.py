import torch

from seqlab.continual.buffers import ClassBalancedBuffer, ReservoirBuffer, herding


def _data(n, n_classes, d=3):
    y = torch.arange(n) % n_classes
    return torch.randn(n, d), y, torch.zeros(n, dtype=torch.long)


def test_reservoir_never_exceeds_budget_and_is_roughly_uniform():
    buf = ReservoirBuffer(50, seed=0)
    for k in range(10):
        x, y, t = _data(100, 5)
        buf.add(x, y, t + k)
        assert len(buf) <= 50
    counts = torch.bincount(buf.t, minlength=10).float()
    assert len(buf) == 50 and counts.max() <= 15  # expected 5 per chunk of the stream


def test_class_balanced_buffer_rebalances_within_budget():
    buf = ClassBalancedBuffer(60, seed=0)
    x, y, t = _data(200, 2)
    buf.add(x, y + 0, t)
    assert buf.class_counts() == {0: 30, 1: 30}
    x, y, t = _data(200, 4)
    buf.add(x, y + 2, t + 1)
    assert buf.class_counts() == {0: 10, 1: 10, 2: 10, 3: 10, 4: 10, 5: 10}
    assert len(buf) <= 60
    buf2 = ClassBalancedBuffer(4, seed=0, by_task=True)
    buf2.add(torch.randn(8, 2), torch.tensor([0, 1] * 4), torch.tensor([0] * 4 + [1] * 4))
    assert len(buf2.class_counts()) == 4


def test_herding_matches_a_direct_search_and_tracks_the_mean():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(40, 6, generator=g)
    idx = herding(f, 5)
    fn = torch.nn.functional.normalize(f, dim=1)
    mu = fn.mean(0)
    chosen = []
    for k in range(1, 6):  # reference: exhaustive argmin at each step
        best = min(
            (i for i in range(40) if i not in chosen),
            key=lambda i: float(((mu - (fn[chosen].sum(0) + fn[i]) / k) ** 2).sum()),
        )
        chosen.append(best)
    assert idx.tolist() == chosen
    err_herd = (fn[idx].mean(0) - mu).norm()
    err_rand = (fn[:5].mean(0) - mu).norm()
    assert err_herd < err_rand
