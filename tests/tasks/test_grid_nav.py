"""grid_nav: every label checked against an independent shortest-path solver (relaxation to a fixed point)."""

import random

import pytest

from seqlab.registry import create
from seqlab.tasks.grid_nav import ACTIONS, GridNav, moves_of, shortest_path, step


def distances(grid, start):
    """All-cells distance from ``start`` by repeated relaxation (no queue: a plain fixed-point loop)."""
    n = len(grid)
    inf = 10**9
    d = {(r, c): inf for r in range(n) for c in range(n) if not grid[r][c]}
    d[tuple(start)] = 0
    changed = True
    while changed:
        changed = False
        for (r, c), v in list(d.items()):
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                nb = (r + dr, c + dc)
                if nb in d and d[nb] + 1 < v:
                    d[(r, c)], v, changed = d[nb] + 1, d[nb] + 1, True
    return d


def test_traces_and_answers_match_an_independent_solver():
    task = create("task", "grid_nav", size=5, wall_prob=0.3, max_moves=8)
    batch = task.sample(64, seed=3)
    assert batch["question"].shape == (64, task.question_len)
    for i in range(64):
        rec = task.describe(batch, i)
        grid, traj = rec["grid"], rec["trajectory"]
        assert traj[0] == rec["start"] and traj[-1] == rec["goal"]
        dist = distances(grid, rec["start"])
        assert rec["answer"] == dist[rec["goal"]] == len(traj) - 1 >= 1
        for a, b in zip(traj, traj[1:]):  # a valid walk over free cells, one move at a time
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 and not grid[b[0]][b[1]]
        assert len(rec["moves"]) == rec["answer"] and set(rec["moves"]) <= set("UDLR")


def test_train_and_test_layouts_are_disjoint_and_seeded():
    task = GridNav(size=4, wall_prob=0.25, max_moves=6)
    a, b = task.sample(16, seed=0), task.sample(16, seed=0)
    assert all((a[k] == b[k]).all() for k in a)
    test = task.sample(16, seed=0, split="test")
    assert not (test["question"] == a["question"]).all()


def test_no_path_is_a_clear_error():
    grid = [[0, 1, 0], [1, 1, 0], [0, 0, 0]]
    with pytest.raises(ValueError, match="no path"):
        shortest_path(grid, (0, 0), (2, 2))
    with pytest.raises(ValueError, match="no path"):
        GridNav(size=3).make_example(grid, (0, 0), (0, 2))
    assert shortest_path(grid, (0, 2), (2, 0)) == [(0, 2), (1, 2), (2, 2), (2, 1), (2, 0)]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="wall"):
        shortest_path([[1, 0], [0, 0]], (0, 0), (1, 1))
    with pytest.raises(ValueError, match="outside"):
        shortest_path([[0, 0], [0, 0]], (0, 0), (2, 1))
    with pytest.raises(ValueError, match="square"):
        shortest_path([[0, 0, 0], [0, 0]], (0, 0), (1, 1))
    with pytest.raises(ValueError, match="wall_prob"):
        GridNav(wall_prob=0.9)
    with pytest.raises(ValueError, match="size"):
        GridNav(size=1)
    with pytest.raises(ValueError, match="moves"):
        GridNav(size=3, max_moves=1).make_example([[0] * 3] * 3, (0, 0), (2, 2))
    with pytest.raises(ValueError, match="neighbours"):
        moves_of([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="action"):
        step([[0]], (0, 0), 99)


def test_episodes_on_one_layout_are_reachable_pairs():
    task = GridNav(size=5, wall_prob=0.3, max_moves=8)
    rng = random.Random(0)
    grid = task.layout(rng)
    for _ in range(20):
        s, g = task.episode(grid, rng)
        path = shortest_path(grid, s, g)
        assert 1 <= len(path) - 1 <= 8 and distances(grid, s)[g] == len(path) - 1
        cell = s
        for a in moves_of(path):
            assert a in ACTIONS
            cell = step(grid, cell, a)
        assert cell == g
