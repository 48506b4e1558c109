"""Properties every registered task must have: format, ranges, determinism, split disjointness."""

import pytest
import torch

from seqlab.registry import create, get, names

TASKS = names("task")


def _check_batch(task, b, n):
    assert set(b) >= {"inputs", "targets", "mask"}
    x, y, m = b["inputs"], b["targets"], b["mask"]
    assert m.dtype == torch.bool and m.dim() == 2 and m.shape[0] == n
    L = m.shape[1]
    if task.vocab_size:
        assert x.dtype == torch.long and x.shape == (n, L)
        assert 0 <= x.min() and x.max() < task.vocab_size
    else:
        assert x.dtype == torch.float32 and x.shape == (n, L, task.d_input)
        assert torch.isfinite(x).all()
    assert m.any(1).all(), "every example has at least one labelled position"
    if task.output == "regression":
        assert y.dtype == torch.float32 and y.shape == (n, L, task.n_outputs)
    else:
        assert y.dtype == torch.long and y.shape == (n, L)
        hi = task.n_outputs if task.output == "classes" else y.shape[1]
        assert 0 <= y.min() and y[m].max() < hi
        assert (y[~m] == 0).all(), "unlabelled positions hold 0"


@pytest.mark.parametrize("name", TASKS)
def test_registered_with_description_and_metric(name):
    e = get("task", name)
    assert e.info.get("description") and e.info.get("metric") in ("accuracy", "mse", "log_loss")
    assert e.implements or e.used_by
    assert create("task", name).metric == e.info["metric"]


@pytest.mark.parametrize("name", TASKS)
def test_format_determinism_and_splits(name):
    task = create("task", name)
    b = task.sample(6, seed=3)
    _check_batch(task, b, 6)
    again = task.sample(6, seed=3)
    for k in ("inputs", "targets", "mask"):
        assert torch.equal(b[k], again[k])
    length = None
    if task.train_lengths is not None:  # fix the length so batches are comparable
        length = max(task.train_lengths)
        b = task.sample(6, seed=3, length=length)
    other = task.sample(6, seed=4, length=length)
    test = task.sample(6, seed=3, split="test", length=length)
    assert not torch.equal(b["inputs"], other["inputs"])
    assert not torch.equal(b["inputs"], test["inputs"])


@pytest.mark.parametrize("name", [t for t in TASKS if create("task", t).train_lengths is not None])
def test_length_knob(name):
    task = create("task", name)
    assert max(task.train_lengths) < min(task.test_lengths)
    for L in (min(task.train_lengths), max(task.test_lengths)):
        _check_batch(task, task.sample(3, seed=0, split="test", length=L), 3)
    seen = {task.sample(2, seed=s)["mask"].shape[1] for s in range(12)}
    assert len(seen) > 1, "training batches draw their length from train_lengths"
    with pytest.raises(ValueError, match="length"):
        task.sample(2, seed=0, length=0)


def test_bad_split_and_n():
    task = create("task", "parity_check")
    with pytest.raises(ValueError, match="split"):
        task.sample(2, seed=0, split="valid")
    with pytest.raises(ValueError, match="n must be"):
        task.sample(0, seed=0)


def test_sorting_targets_order_the_inputs():
    task = create("task", "sorting")
    b = task.sample(5, seed=0, length=9)
    x, y = b["inputs"][..., 0], b["targets"]
    assert (y.sort(1).values == torch.arange(9)).all()
    picked = x.gather(1, y)
    assert (picked[:, 1:] >= picked[:, :-1]).all()
    with pytest.raises(ValueError, match="min_length <= max_train_length < max_test_length"):
        create("task", "sorting", max_train_length=10, max_test_length=5)
