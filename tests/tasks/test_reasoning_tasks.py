"""Reasoning tasks: every label and trace checked against an independent solver (BFS, brute force, eval)."""

import itertools
from collections import Counter

import pytest
import torch

from seqlab.registry import create
from seqlab.tasks.reasoning_base import BOT, EOT, PAD
from seqlab.tasks.reasoning_graphs import make_example, shortest_path
from seqlab.tasks.reasoning_subset_sum import trace_distributions, witness


def reachable_sets(edges, source):
    """Plain layer-by-layer search (not the task's BFS): {node: distance}."""
    dist, layer, d = {source: 0}, {source}, 0
    while layer:
        d += 1
        nxt = {v for (u, v) in edges if u in layer and v not in dist}
        for v in nxt:
            dist[v] = d
        layer = nxt
    return dist


def check_path(edges, source, path):
    walk = [source, *path]
    assert all((a, b) in set(edges) for a, b in zip(walk, walk[1:])), (walk, edges)


@pytest.mark.parametrize(
    "name, kw", [("prosqa", {}), ("prosqa", {"depth": 4, "n_dead": 2}), ("reachability", {})]
)
def test_two_option_graphs_match_bfs(name, kw):
    task = create("task", name, **kw)
    b = task.sample(40, seed=1)
    for i in range(40):
        r = task.describe(b, i)
        dist = reachable_sets(r["edges"], r["source"])
        o1, o2 = r["query"]
        assert (o1 in dist) != (o2 in dist), "exactly one option is reachable"
        assert r["answer"] == (o1 if o1 in dist else o2)
        check_path(r["edges"], r["source"], r["trace"])
        assert r["trace"][-1] == r["answer"]
        assert len(r["trace"]) == dist[r["answer"]] == task.depth  # a shortest path of the set depth


def test_prosqa_has_dead_ends_and_a_distractor_chain():
    task = create("task", "prosqa", depth=3, n_dead=1)
    b = task.sample(30, seed=2)
    branching = 0
    for i in range(30):
        r = task.describe(b, i)
        out = Counter(u for u, _ in r["edges"])
        on_path = [r["source"], *r["trace"][:-1]]
        branching += any(out[u] > 1 for u in on_path)
        other = [o for o in r["query"] if o != r["answer"]][0]
        assert any(v == other for _, v in r["edges"]), "the wrong option sits at the end of a chain"
    assert branching == 30, "every question has a branch off the true path"


def test_prontoqa_answer_is_reachability_and_trace_walks_the_chain():
    task = create("task", "prontoqa", depth=4)
    b = task.sample(40, seed=0)
    answers = set()
    for i in range(40):
        r = task.describe(b, i)
        dist = reachable_sets(r["edges"], r["source"])
        assert r["answer"] == (r["query"] in dist)
        check_path(r["edges"], r["source"], r["trace"])
        assert not any(u == r["trace"][-1] for u, _ in r["edges"]), "the walk ends where the chain ends"
        answers.add(r["answer"])
    assert answers == {True, False}


def test_mnns_answer_and_trace_by_brute_force():
    task = create("task", "subset_sum", n_numbers=5, max_value=9)
    b = task.sample(30, seed=0)
    for i in range(30):
        r = task.describe(b, i)
        nums = r["numbers"]
        best = min(
            s
            for s in (
                sum(e * a for e, a in zip(signs, nums)) for signs in itertools.product((1, -1), repeat=5)
            )
            if s >= 0
        )
        assert r["answer"] == best == r["trace"][-1]
        steps = [r["trace"][0]] + [b2 - a2 for a2, b2 in zip(r["trace"], r["trace"][1:])]
        assert all(abs(s) == a for s, a in zip(steps, nums))


def test_subset_sum_answer_and_trace_by_brute_force():
    task = create("task", "subset_sum", variant="subset_sum", n_numbers=4)
    b = task.sample(60, seed=0)
    seen = set()
    for i in range(60):
        r = task.describe(b, i)
        nums, target = r["numbers"], r["target"]
        sums = {sum(c) for k in range(5) for c in itertools.combinations(nums, k)}
        assert r["answer"] == (target in sums)
        assert r["trace"][-1] == max(s for s in sums if s <= target)
        steps = [r["trace"][0]] + [y - x for x, y in zip(r["trace"], r["trace"][1:])]
        assert all(s in (0, a) for s, a in zip(steps, nums))
        seen.add(r["answer"])
    assert seen == {True, False}


def test_unsatisfiable_subset_sum_says_no_and_witness_refuses():
    task = create("task", "subset_sum", variant="subset_sum", n_numbers=3, max_value=9)
    ex = task.make_example([2, 4, 6], 5)
    assert task.decode_answer(ex.answer) is False and ex.record["trace"][-1] == 4
    assert witness([2, 4, 6], 10) == [1, 2]
    with pytest.raises(ValueError, match="unsatisfiable"):
        witness([2, 4, 6], 5)
    with pytest.raises(ValueError, match="target"):
        task.make_example([2, 4, 6], None)
    with pytest.raises(ValueError, match="no target"):
        create("task", "subset_sum").make_example([1, 2, 3, 4], 3)


def test_trace_distributions_count_every_trace():
    nums = [3, 1, 2]
    got = trace_distributions(nums, "mnns")
    traces = [[e1, e1 + e2, e1 + e2 + e3] for e1 in (3, -3) for e2 in (1, -1) for e3 in (2, -2)]
    for t in range(3):
        c = Counter(tr[t] for tr in traces)
        assert got[t] == {v: k / 8 for v, k in c.items()}
    sub = trace_distributions(nums, "subset_sum")
    assert sub[0] == {0: 0.5, 3: 0.5} and abs(sum(sub[2].values()) - 1) < 1e-12
    b = create("task", "subset_sum", n_numbers=3).sample(4, seed=0)
    assert torch.allclose(b["trace_dist"].sum(-1), torch.ones(4, 3))


def test_arithmetic_matches_eval():
    task = create("task", "arithmetic", n_ops=4, modulus=10)
    b = task.sample(50, seed=0)
    for i in range(50):
        r = task.describe(b, i)
        expr = str(r["numbers"][0])
        for k, (op, a) in enumerate(zip(r["ops"], r["numbers"][1:])):
            expr = f"({expr} {op} {a})"
            assert r["trace"][k] == eval(expr) % 10  # noqa: S307 - our own digits and operators
        assert r["answer"] == r["trace"][-1]
    with pytest.raises(ValueError, match="unknown operations"):
        task.make_example([1, 2, 3, 4, 5], ["+", "/", "+", "+"])
    with pytest.raises(ValueError, match="numbers must be ints"):
        task.make_example([1, 2, 3, 4, 12], ["+"] * 4)


def test_token_layout_is_next_token_prediction_over_trace_eot_answer():
    task = create("task", "prosqa")
    b = task.sample(5, seed=0)
    lq, m = task.question_len, task.max_trace_len
    for i in range(5):
        seq = torch.cat(
            [
                b["question"][i],
                torch.tensor([BOT]),
                b["trace"][i],
                torch.tensor([EOT]),
                b["answer"][i : i + 1],
            ]
        )
        assert torch.equal(b["inputs"][i], seq[:-1]) and torch.equal(
            b["targets"][i][b["mask"][i]], seq[lq + 1 :]
        )
        assert int(b["mask"][i].sum()) == m + 2
    assert (b["inputs"][:, lq] == BOT).all(), "BOT sits in one column (left-padded questions)"
    assert (b["question"][:, 0] == PAD).any() or task.question_len == b["question"].shape[1]


def test_graphs_without_a_path_or_with_two_answers_are_refused():
    edges = [(0, 1), (1, 2), (3, 4)]
    with pytest.raises(ValueError, match="no path"):
        make_example(edges, 0, (4, 3))
    with pytest.raises(ValueError, match="ambiguous"):
        make_example(edges, 0, (1, 2))
    with pytest.raises(ValueError, match="no path"):
        shortest_path(edges, 2, 0)
    ex = make_example(edges, 0, (4, 2))
    assert ex.record["answer"] == 2 and ex.record["trace"] == [1, 2]


@pytest.mark.parametrize(
    "name, kw, match",
    [
        ("prosqa", {"depth": 6, "n_names": 10}, "n_names"),
        ("reachability", {"n_nodes": 4, "depth": 3}, "depth"),
        ("reachability", {"n_edges": 2, "depth": 3}, "n_edges"),
        ("subset_sum", {"variant": "knapsack"}, "variant"),
        ("arithmetic", {"modulus": 1}, "modulus"),
        ("prontoqa", {"depth": 0}, "depth"),
    ],
)
def test_bad_configurations_name_the_problem(name, kw, match):
    with pytest.raises(ValueError, match=match):
        create("task", name, **kw)


def test_reachability_that_cannot_be_built_says_so():
    task = create("task", "reachability", n_nodes=5, n_edges=20, depth=3)
    with pytest.raises(ValueError, match="could not place"):
        task.sample(1, seed=0)


def test_describe_checks_its_input():
    task = create("task", "arithmetic")
    b = task.sample(2, seed=0)
    with pytest.raises(ValueError, match="outside the batch"):
        task.describe(b, 5)
    with pytest.raises(ValueError, match="trace"):
        task.describe({"question": b["question"]}, 0)
