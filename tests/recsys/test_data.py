import zipfile

import pytest
import torch

from seqlab.recsys import data as rdata
from seqlab.recsys.data import Interactions, leave_one_out, load_ml100k


def test_from_triples_sorts_each_user_by_time_then_item():
    d = Interactions.from_triples(["a", "b", "a", "a", "b"], [3, 1, 2, 1, 4], [5, 1, 2, 5, 0], num_items=4)
    assert d.user_ids == ["a", "b"]
    assert d.sequences[0].tolist() == [2, 1, 3]  # t=2, then t=5 tie broken by item id
    assert d.sequences[1].tolist() == [4, 1]
    assert d.times[0].tolist() == [2.0, 5.0, 5.0]


@pytest.mark.parametrize(
    "users, items, times, n, match",
    [
        (["a"], [5], [0], 4, "outside the catalogue 1..4"),
        (["a"], [0], [0], 4, "outside the catalogue"),
        (["a", "b"], [1], [0, 1], 4, "one entry per interaction"),
        ([], [], [], 4, "every user needs a history"),
        (["a"], [1], [0], 0, "num_items"),
    ],
)
def test_from_triples_rejects_bad_input(users, items, times, n, match):
    with pytest.raises(ValueError, match=match):
        Interactions.from_triples(users, items, times, num_items=n)


def test_leave_one_out_holds_out_the_last_two_items():
    d = Interactions.from_triples(["u"] * 5 + ["v"] * 3, [1, 2, 3, 4, 5, 5, 4, 3], list(range(8)), 5)
    s = leave_one_out(d)
    assert [t.tolist() for t in s.train] == [[1, 2, 3], [5]]
    assert s.valid.tolist() == [4, 4] and s.test.tolist() == [5, 3]
    assert [h.tolist() for h in s.history("test")] == [[1, 2, 3, 4], [5, 4]]
    assert [h.tolist() for h in s.history("valid")] == [[1, 2, 3], [5]]
    assert s.train_counts().tolist() == [0, 1, 1, 1, 0, 1]
    with pytest.raises(ValueError, match="stage"):
        s.history("train")


def test_a_user_without_enough_history_is_named():
    d = Interactions.from_triples(["u"] * 3 + ["short"] * 2, [1, 2, 3, 1, 2], range(5), 3)
    with pytest.raises(ValueError, match="user short has 2 interactions"):
        leave_one_out(d)


def test_missing_wheel_error_gives_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQLAB_CACHE", str(tmp_path))
    monkeypatch.delenv("SEQLAB_RECBOLE_WHEEL", raising=False)
    with pytest.raises(FileNotFoundError, match="pip download recbole==1.2.1 --no-deps -d"):
        rdata.find_wheel()


def test_a_zip_without_the_data_is_a_clear_error(tmp_path):
    bad = tmp_path / "fake.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("recbole/__init__.py", "")
    with pytest.raises(ValueError, match="not a recbole wheel"):
        load_ml100k(bad)


def test_movielens_100k_from_the_recbole_wheel():
    d = load_ml100k()
    assert (d.num_users, d.num_items) == (943, 1682)
    assert sum(s.numel() for s in d.sequences) == 100_000
    assert all(bool((t[1:] >= t[:-1]).all()) for t in d.times)
    assert d.item_text[0] == "Toy Story (1995); genres: Animation, Children's, Comedy"
    s = leave_one_out(d)
    assert min(t.numel() for t in s.train) == 18  # every ML-100K user rated >= 20 films
    # each (user, item) pair occurs once, so the held-out items are never in the history
    assert all(int(v) not in set(t.tolist()) for t, v in zip(s.history(), s.test, strict=True))
    assert torch.equal(s.test, torch.stack([q[-1] for q in d.sequences]))
