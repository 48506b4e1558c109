"""Label correctness of the Chomsky-hierarchy tasks by independent recomputation."""

import pytest

from seqlab.registry import create


def _split(task, b, i):
    """(input string, labelled outputs) of example i."""
    x, y, m = b["inputs"][i], b["targets"][i], b["mask"][i]
    n_in = int((x != task.blank).sum())
    assert (x[n_in:] == task.blank).all() and not m[:n_in].any()
    return x[:n_in].tolist(), y[m].tolist()


def _check(name, fn, lengths=(1, 2, 7, 40, 57), **cfg):
    task = create("task", name, **cfg)
    for L in lengths:
        b = task.sample(8, seed=L, length=L)
        for i in range(8):
            s, out = _split(task, b, i)
            assert out == fn(s), (name, s, out)


def test_even_pairs():
    _check("even_pairs", lambda s: [sum(a != b for a, b in zip(s, s[1:])) % 2])


def test_parity_check():
    _check("parity_check", lambda s: [sum(s) % 2])


def test_cycle_navigation():
    _check("cycle_navigation", lambda s: [sum(t - 1 for t in s) % 5])


def _python_eval(s):
    text = "".join("+-*"[t - 5] if t >= 5 else str(t) for t in s)
    return eval(text) % 5  # Python precedence: * before + and -


def test_modular_arithmetic():
    task = create("task", "modular_arithmetic")
    b = task.sample(4, seed=0, length=8)
    assert b["inputs"].shape[1] == 7 + 1, "even lengths give an expression of length L-1"
    _check("modular_arithmetic", lambda s: [_python_eval(s)], lengths=(1, 5, 9, 39, 61))


def test_out_of_range_constraints():
    with pytest.raises(ValueError, match="max_test_length must exceed"):
        create("task", "parity_check", max_train_length=40, max_test_length=40)
    with pytest.raises(ValueError, match="max_train_length must be an int"):
        create("task", "parity_check", max_train_length=0)


def test_uses_randomized_pe_paper_and_cites_chomsky():
    from seqlab.registry import get

    e = get("task", "parity_check")
    assert "Chomsky" in e.info["cites"] and e.info["level"] == "regular"
