import pytest
import torch

from seqlab.registry import create


def test_targets_are_the_values_of_the_queried_keys():
    task = create("task", "mqar", vocab_size=64, seq_len=48, n_pairs=6)
    b = task.sample(20, seed=1)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    N = 6
    for i in range(20):
        keys, vals = x[i, 0 : 2 * N : 2].tolist(), x[i, 1 : 2 * N : 2].tolist()
        assert len(set(keys)) == N and len(set(vals)) == N
        assert all(1 <= k < 32 for k in keys) and all(32 <= v < 64 for v in vals)
        pos = m[i].nonzero().flatten().tolist()
        assert len(pos) == N and all(p >= 2 * N and (p - 2 * N) % 2 == 0 for p in pos)
        assert sorted(x[i, pos].tolist()) == sorted(keys), "each key is queried exactly once"
        table = dict(zip(keys, vals))
        assert [y[i, p].item() for p in pos] == [table[x[i, p].item()] for p in pos]
        rest = torch.ones(48, dtype=torch.bool)
        rest[: 2 * N] = False
        rest[pos] = False
        assert (x[i, rest] == 0).all(), "everything else is the pad token"


def test_power_law_favours_early_query_slots():
    task = create("task", "mqar", vocab_size=128, seq_len=256, n_pairs=4)
    m = task.sample(400, seed=0)["mask"][:, 8:]
    first_half = m[:, : m.shape[1] // 2].sum()
    assert first_half > 0.6 * m.sum()


@pytest.mark.parametrize(
    "cfg, msg",
    [
        (dict(seq_len=64, n_pairs=40, vocab_size=1024), "seq_len >= 4\\*n_pairs = 160"),
        (dict(seq_len=64, n_pairs=8, vocab_size=16), "vocab_size >= 2\\*\\(n_pairs\\+1\\) = 18"),
        (dict(seq_len=0), "seq_len must be an int"),
        (dict(power_a=0.0), "power_a"),
    ],
)
def test_constraints(cfg, msg):
    with pytest.raises(ValueError, match=msg):
        create("task", "mqar", **cfg)
