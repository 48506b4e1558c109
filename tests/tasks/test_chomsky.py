"""Label correctness of the Chomsky-hierarchy tasks by independent recomputation."""

import math

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
    assert e.implements[0].arxiv == "2207.02098" and e.info["level"] == "regular"


def _bracket_eval(s):
    text = "".join("+-()*"[t - 5] if t >= 5 else str(t) for t in s)
    return eval(text) % 5


def test_modular_arithmetic_brackets():
    _check("modular_arithmetic_brackets", lambda s: [_bracket_eval(s)])


def test_modular_arithmetic_brackets_uses_all_three_operators():
    # both published Chomsky-hierarchy codebases build this task with +, - and *
    x = create("task", "modular_arithmetic_brackets").sample(200, seed=0, length=21)["inputs"]
    counts = {op: int((x == tok).sum()) for op, tok in (("+", 5), ("-", 6), ("*", 9))}
    assert all(c > 0 for c in counts.values()), counts


def test_solve_equation():
    def solve(s):
        eq = s.index(11)
        assert 9 not in s  # no multiplication: the hidden digit must be unique
        sols = [d for d in range(5) if _bracket_eval([d if t == 10 else t for t in s[:eq]]) == s[eq + 1]]
        assert len(sols) == 1 and s.count(10) == 1
        return sols

    _check("solve_equation", solve, lengths=(3, 4, 9, 40, 57))


def test_reverse_string():
    _check("reverse_string", lambda s: s[::-1])


def test_stack_manipulation():
    def run(s):
        k = 0
        while k < len(s) and s[k] < 2:
            k += 1
        stack = list(s[:k])
        for a in s[k:]:
            if a == 2:
                stack = stack[:-1]
            else:
                stack.append(a - 3)
        return stack[::-1] + [2]

    _check("stack_manipulation", run)


def test_duplicate_and_odds_first_and_bucket_sort():
    _check("duplicate_string", lambda s: s + s)
    _check("odds_first", lambda s: s[0::2] + s[1::2])
    _check("bucket_sort", sorted)


def test_missing_duplicate_string():
    def missing(s):
        h = len(s) // 2
        i = s.index(2)
        return [s[i + h] if i < h else s[i - h]]

    _check("missing_duplicate_string", missing, lengths=(2, 3, 8, 41))


def _le_int(bits):
    return int("".join(map(str, bits[::-1])) or "0", 2)


def _binary_op(op):
    def fn(s):
        sep = s.index(2)
        value = op(_le_int(s[:sep]), _le_int(s[sep + 1 :]))
        return [int(c) for c in bin(value)[2:][::-1]] + [2]

    return fn


def test_binary_addition_and_multiplication():
    _check("binary_addition", _binary_op(lambda a, b: a + b), lengths=(3, 4, 11, 40, 57))
    _check("binary_multiplication", _binary_op(lambda a, b: a * b), lengths=(3, 4, 11, 40, 57))
    task = create("task", "binary_addition")
    b = task.sample(2, seed=0, length=10)
    assert b["inputs"].shape[1] == 10 + 11 and b["mask"][:, 10:].sum(1).min() >= 2


def test_compute_sqrt():
    def fn(s):
        r = math.isqrt(int("".join(map(str, s)), 2))
        return [int(c) for c in f"{r:0{math.ceil(len(s) / 2)}b}"]

    _check("compute_sqrt", fn)


def test_all_fifteen_registered():
    from seqlab.registry import names

    want = """even_pairs parity_check cycle_navigation modular_arithmetic modular_arithmetic_brackets
    reverse_string stack_manipulation solve_equation duplicate_string missing_duplicate_string odds_first
    binary_addition binary_multiplication compute_sqrt bucket_sort""".split()
    assert set(want) <= set(names("task")) and len(want) == 15
    for name in want:
        t = create("task", name)
        assert list(t.test_lengths) == list(range(41, 101))
