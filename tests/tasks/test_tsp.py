"""TSP task: Held-Karp against brute force over permutations, the heuristics against plain loops."""

import math

import pytest
import torch

from seqlab.registry import create
from seqlab.tasks.tsp import (
    brute_force_tsp,
    canonical,
    held_karp,
    nearest_neighbour,
    random_tours,
    tour_length,
    two_opt,
)


def _length(pts, tour):
    return sum(math.dist(pts[tour[i]], pts[tour[(i + 1) % len(tour)]]) for i in range(len(tour)))


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_held_karp_equals_brute_force(n):
    pts = torch.rand(12, n, 2, generator=torch.Generator().manual_seed(n))
    tours, lengths = held_karp(pts)
    for r in range(12):
        best, best_len = brute_force_tsp(pts[r])
        assert tours[r].tolist() == best
        assert float(lengths[r]) == pytest.approx(best_len, abs=1e-9)
        assert _length(pts[r].tolist(), best) == pytest.approx(best_len, abs=1e-9)


def test_tiny_instances_and_bad_input():
    pts = torch.rand(2, 3, 2)
    tours, lengths = held_karp(pts)
    assert tours.tolist() == [[0, 1, 2]] * 2
    assert torch.allclose(lengths, tour_length(pts, tours))
    with pytest.raises(ValueError, match="exact for 1 <= N <= 12"):
        held_karp(torch.rand(1, 13, 2))
    with pytest.raises(ValueError, match="shape \\(batch, N, 2\\)"):
        held_karp(torch.rand(4, 2))


def test_canonical_start_and_direction():
    assert canonical([3, 1, 0, 2]) == [0, 1, 3, 2]
    assert canonical([0, 4, 2, 1, 3]) == [0, 3, 1, 2, 4]
    assert canonical([0, 1, 2]) == [0, 1, 2]
    pts = torch.rand(1, 6, 2)
    t = torch.tensor([[4, 2, 0, 5, 1, 3]])
    assert torch.allclose(tour_length(pts, t), tour_length(pts, torch.tensor([canonical(t[0].tolist())])))


def test_tour_length_against_a_loop():
    pts = torch.rand(3, 6, 2)
    tours = torch.stack([torch.randperm(6) for _ in range(3)])
    got = tour_length(pts, tours)
    for r in range(3):
        assert float(got[r]) == pytest.approx(_length(pts[r].tolist(), tours[r].tolist()), abs=1e-9)


def test_nearest_neighbour_against_a_loop():
    pts = torch.rand(4, 8, 2)
    got = nearest_neighbour(pts)
    for r in range(4):
        p = pts[r].double().tolist()
        tour, left = [0], set(range(1, 8))
        while left:
            nxt = min(left, key=lambda j: math.dist(p[tour[-1]], p[j]))
            tour.append(nxt)
            left.remove(nxt)
        assert got[r].tolist() == tour


def test_two_opt_is_a_local_optimum_and_never_longer():
    pts = torch.rand(5, 9, 2)
    start = nearest_neighbour(pts)
    out = two_opt(pts, start)
    assert (tour_length(pts, out) <= tour_length(pts, start) + 1e-12).all()
    assert (out.sort(1).values == torch.arange(9)).all()
    for r in range(5):
        p, t = pts[r].double().tolist(), out[r].tolist()
        for i in range(1, 8):
            for k in range(i + 1, 9):
                moved = t[:i] + t[i : k + 1][::-1] + t[k + 1 :]
                assert _length(p, moved) >= _length(p, t) - 1e-9
    _, opt = held_karp(pts)
    assert (tour_length(pts, out) >= opt - 1e-9).all()


def test_random_tours_are_permutations():
    t = random_tours(6, 7, torch.Generator().manual_seed(0))
    assert (t.sort(1).values == torch.arange(7)).all()


def test_task_batches_hold_optimal_canonical_tours():
    task = create("task", "tsp")
    b = task.sample(5, seed=1, length=6)
    assert b["inputs"].shape == (5, 6, 2) and b["targets"].shape == (5, 6) and b["mask"].all()
    for r in range(5):
        best, _ = brute_force_tsp(b["inputs"][r])
        assert b["targets"][r].tolist() == best
    with pytest.raises(ValueError, match="max_test_points <= 12"):
        create("task", "tsp", max_test_points=13)
    with pytest.raises(ValueError, match="min_points must be an int >= 4"):
        create("task", "tsp", min_points=3)
