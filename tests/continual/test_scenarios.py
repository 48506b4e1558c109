import sys

import pytest
import torch

from seqlab.continual import data, scenarios
from seqlab.continual.scenarios import blurry, online, permuted_stream, rotate, rotated_stream, split_stream


def test_split_digits_three_scenarios(digits_streams):
    task, domain, cls = digits_streams["task"], digits_streams["domain"], digits_streams["class"]
    assert len(task) == 5 and task.n_outputs == 10 and domain.n_outputs == 2 and cls.n_outputs == 10
    e = task.experiences[2]
    assert set(e.y_train.tolist()) == {4, 5} and e.units == (4, 5)
    assert set(domain.experiences[2].y_train.tolist()) == {0, 1}
    t = torch.tensor([2, 0])
    assert task.active(t, 3)[0].nonzero().flatten().tolist() == [4, 5]
    assert task.active(t, 3)[1].nonzero().flatten().tolist() == [0, 1]
    assert cls.active(t, 3)[0].nonzero().flatten().tolist() == [0, 1, 2, 3, 4, 5]
    assert domain.active(t, 3).all()


def test_train_and_test_are_disjoint_and_fixed():
    ds = data.load("digits")
    rows_tr = {tuple(r.tolist()) for r in ds.x_train}
    overlap = sum(tuple(r.tolist()) in rows_tr for r in ds.x_test)
    assert overlap < 0.05 * len(ds.x_test)  # digits has a few exact duplicate images
    again = data.load.__wrapped__("digits")
    assert torch.equal(again.y_test, ds.y_test) and abs(len(ds.y_test) - 0.2 * 1797) < 10


def test_permuted_and_rotated_streams():
    ds = data.load("digits")
    s = permuted_stream(ds, "class", n_tasks=3, seed=1)
    assert s.n_outputs == 30 and s.experiences[1].units == tuple(range(10, 20))
    x0, x1 = s.experiences[0].x_train, s.experiences[1].x_train
    assert torch.equal(x0.sort(dim=1).values, x1.sort(dim=1).values)  # same pixels, new order
    r = rotated_stream(ds, "domain", n_tasks=2, step_degrees=90.0)
    assert r.n_outputs == 10
    img = torch.zeros(1, 64)
    img[0, 0] = 1.0  # top-left corner -> rotating 360 degrees returns it
    assert torch.allclose(
        rotate(rotate(rotate(rotate(img, (8, 8), 90), (8, 8), 90), (8, 8), 90), (8, 8), 90), img, atol=1e-5
    )


def test_blurry_moves_a_fraction_and_keeps_everything(digits_streams):
    s = digits_streams["class"]
    b = blurry(s, fraction=0.2, seed=0)
    assert sum(len(e.y_train) for e in b.experiences) == sum(len(e.y_train) for e in s.experiences)
    foreign = [(e.t_train != e.index).float().mean().item() for e in b.experiences]
    assert all(0.1 < f < 0.3 for f in foreign)
    with pytest.raises(ValueError, match="fraction"):
        blurry(s, fraction=1.5)
    assert online(s).online and not s.online


def test_bad_scenario_and_split_are_refused():
    with pytest.raises(ValueError, match="task-il"):
        split_stream("digits", "multi")
    with pytest.raises(ValueError, match="divide"):
        split_stream("digits", "class", classes_per_task=3)
    with pytest.raises(ValueError, match="unknown data set"):
        data.load("cifar")


def test_missing_data_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(ValueError, match=r"seqlab\[data\]"):
        data.load.__wrapped__("mnist1d")


def test_registered_scenarios():
    from seqlab.registry import get, names

    assert {"task-il", "domain-il", "class-il", "split", "permuted", "rotated", "blurry", "online"} <= set(
        names("scenario")
    )
    assert get("scenario", "task-il").info["needs_task_id"] is True
    assert scenarios.THREE in get("scenario", "class-il").used_by
