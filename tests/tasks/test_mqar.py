import pytest
import torch

from seqlab.registry import create


@pytest.mark.parametrize("fill", ["random", "pad"])
def test_targets_are_the_values_of_the_queried_keys(fill):
    task = create("task", "mqar", vocab_size=64, seq_len=48, n_pairs=6, fill=fill)
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
        if fill == "pad":
            assert (x[i, rest] == 0).all(), "everything else is the pad token"
        assert not m[i, rest].any() and (y[i, rest] == 0).all()


def test_non_query_slots_hold_random_tokens_by_default():
    # zoology's default (random_non_queries=True): unlabelled slots are uniform over the vocabulary
    task = create("task", "mqar", vocab_size=128, seq_len=64, n_pairs=4)
    assert task.fill == "random"
    b = task.sample(500, seed=3)
    free = ~b["mask"]
    free[:, :8] = False  # the key/value prefix
    tokens = b["inputs"][free]
    assert tokens.min() == 0 and tokens.max() == 127
    counts = torch.bincount(tokens, minlength=128).float()
    assert counts.std() / counts.mean() < 0.15, "roughly uniform over [0, 128)"


def test_query_placement_is_random_only_when_slots_outnumber_queries():
    # L = 64: 16 pairs fill every even slot of the query region; 4 and 8 pairs leave choice
    full = create("task", "mqar", vocab_size=128, seq_len=64, n_pairs=16)
    assert not full.placement_is_random
    m = full.sample(50, seed=0)["mask"]
    assert (m[:, 32::2]).all() and m.sum(1).eq(16).all()
    for n_pairs in (4, 8):
        task = create("task", "mqar", vocab_size=128, seq_len=64, n_pairs=n_pairs)
        assert task.placement_is_random
        m = task.sample(200, seed=0)["mask"]
        assert len({tuple(r.nonzero().flatten().tolist()) for r in m}) > 20, "placements vary"


def test_power_law_favours_early_query_slots():
    task = create("task", "mqar", vocab_size=512, seq_len=256, n_pairs=4)
    m = task.sample(400, seed=0)["mask"][:, 8:]
    first_half = m[:, : m.shape[1] // 2].sum()
    assert first_half > 0.6 * m.sum()


@pytest.mark.parametrize(
    "cfg, msg",
    [
        (dict(seq_len=64, n_pairs=40, vocab_size=1024), "seq_len >= 4\\*n_pairs = 160"),
        (dict(seq_len=0), "seq_len must be an int"),
        (dict(power_a=0.0), "power_a"),
        (dict(vocab_size=32, seq_len=32, n_pairs=8), "vocab_size > seq_len"),
        (dict(vocab_size=64, seq_len=128, n_pairs=8), "vocab_size > seq_len"),
        (dict(fill="zeros"), "fill must be"),
    ],
)
def test_constraints(cfg, msg):
    with pytest.raises(ValueError, match=msg):
        create("task", "mqar", **cfg)
