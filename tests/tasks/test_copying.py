import pytest

from seqlab.registry import create


def test_copying_targets_are_the_first_symbols():
    task = create("task", "copying", n_symbols=4, n_tokens=5, delay=7)
    b = task.sample(4, seed=0)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    assert x.shape[1] == 2 * 5 + 7 + 1
    assert (x[:, 5 + 7] == 5).all() and (x[:, 5:12] == 0).all() and (x[:, 13:] == 0).all()
    assert (y[:, -5:] == x[:, :5]).all() and m[:, -5:].all() and not m[:, :-5].any()


def test_selective_copying_recalls_data_tokens_in_order():
    task = create("task", "selective_copying", vocab_size=10, seq_len=20, n_tokens=4)
    b = task.sample(8, seed=2)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    for i in range(8):
        ctx = x[i, :20]
        data = ctx[ctx >= 2].tolist()
        assert len(data) == 4 and ((ctx == 0) | (ctx >= 2)).all()
        assert y[i, 20:].tolist() == data and (x[i, 20:] == 1).all()
        assert m[i, 20:].all() and not m[i, :20].any()


def test_induction_heads_recalls_successor_of_trigger():
    task = create("task", "induction_heads", vocab_size=6, seq_len=12)
    b = task.sample(16, seed=0)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    for i in range(16):
        where = (x[i] == 5).nonzero().flatten().tolist()
        assert len(where) == 2 and where[1] == 11
        assert y[i, 11] == x[i, where[0] + 1] and m[i].sum() == 1 and m[i, 11]


@pytest.mark.parametrize(
    "name, cfg, msg",
    [
        ("selective_copying", dict(seq_len=4, n_tokens=8), "seq_len >= n_tokens"),
        ("selective_copying", dict(vocab_size=2), "vocab_size must be >= 3"),
        ("induction_heads", dict(seq_len=2), "seq_len must be >= 3"),
        ("copying", dict(delay=-1), "delay must be an int >= 0"),
    ],
)
def test_constraints(name, cfg, msg):
    with pytest.raises(ValueError, match=msg):
        create("task", name, **cfg)
