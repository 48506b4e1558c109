import pytest

from seqlab.registry import create


def test_labels_are_running_parity():
    task = create("task", "streaming_parity", max_train_length=8, max_test_length=80)
    b = task.sample(5, seed=0, length=30)
    for bits, lab in zip(b["inputs"].tolist(), b["targets"].tolist()):
        acc = 0
        for t, bit in enumerate(bits):
            acc ^= bit
            assert lab[t] == acc
    assert b["mask"].all()
    assert list(task.train_lengths) == list(range(1, 9)) and max(task.test_lengths) == 80


def test_constraints():
    with pytest.raises(ValueError, match="max_test_length must exceed"):
        create("task", "streaming_parity", max_train_length=10, max_test_length=10)
