"""Pointer Networks hull / TSP claims: the cells' helpers against direct computations, the criteria."""

import pytest
import torch

from seqlab.decode.pointer_experiment import (
    angular_order,
    augment,
    hull_baselines,
    hull_scores,
    pointer_hull,
    pointer_tsp,
)
from seqlab.papers.claims import CLAIMS
from seqlab.papers.claims_decode_pointer import CLAIMS as POINTER
from seqlab.tasks.convex_hull import is_simple_polygon, monotone_chain
from seqlab.tasks.tsp import held_karp, tour_length


def _hull_row(coverage, acc=0.5, control=0.9, base=(0.0, 0.6, 0.9)):
    def make(run, j):
        r = {}
        for n in (5, 10, 15, 20):
            for name in ("beam", "greedy"):
                r[f"coverage_{name}_n{n}"] = coverage + j
                r[f"acc_{name}_n{n}"] = acc
                r[f"invalid_{name}_n{n}"] = 0.0
            for name, v in zip(("input_order", "random_subset", "farthest"), base):
                r[f"coverage_{name}_n{n}"] = v
                r[f"acc_{name}_n{n}"] = 0.0
        r["acc_beam_n5"] = control
        return r

    return make


def _tsp_row(ratio, control=1.01, nn=1.10, rnd=1.83):
    def make(run, j):
        r = {}
        for n in (5, 10, 12):
            r[f"ratio_beam_n{n}"] = ratio + j
            r[f"ratio_greedy_n{n}"] = ratio + j
            r[f"ratio_random_n{n}"] = rnd
            r[f"ratio_nearest_neighbour_n{n}"] = nn
            r[f"ratio_two_opt_n{n}"] = 1.01
            r[f"optimal_length_n{n}"] = 2.85
            r[f"acc_beam_n{n}"] = 0.3
        r["ratio_beam_n5"] = control
        return r

    return make


def judge(c, make, jitter=0.002):
    runs = c.runs_by_seed()
    return c.judge({s: {n: make(n, i * jitter) for n in runs[s]} for i, s in enumerate(runs)})


def test_discovered_with_decode_cells():
    assert set(POINTER) == {"pointer_convex_hull", "pointer_tsp"}
    assert CLAIMS["pointer_tsp"] is POINTER["pointer_tsp"]
    assert POINTER["pointer_convex_hull"].make_runs(0)["hull"].kind == "decode"


@pytest.mark.parametrize(
    "label,make",
    [
        ("input order", _hull_row(0.0)),
        ("random subset", _hull_row(0.6)),
        ("farthest points", _hull_row(0.9)),
        ("below the farthest baseline", _hull_row(0.96, base=(0.0, 0.6, 0.97))),
        ("control missed", _hull_row(0.99, control=0.3)),
    ],
)
def test_trivial_hull_rows_never_pass(label, make):
    assert judge(POINTER["pointer_convex_hull"], make).status in ("failed", "inconclusive"), label


@pytest.mark.parametrize(
    "label,make",
    [
        ("random tour", _tsp_row(1.83)),
        ("nearest neighbour", _tsp_row(1.10)),
        ("between heuristic and threshold", _tsp_row(1.09)),
        ("better than threshold but not than a strong nearest neighbour", _tsp_row(1.05, nn=1.04)),
        ("control missed", _tsp_row(1.02, control=1.10)),
    ],
)
def test_trivial_tsp_rows_never_pass(label, make):
    assert judge(POINTER["pointer_tsp"], make).status in ("failed", "inconclusive"), label


def test_the_criteria_can_pass():
    r = judge(POINTER["pointer_convex_hull"], _hull_row(0.99))
    assert r.status == "passed" and r.low <= r.mean <= r.high, r.figure
    r = judge(POINTER["pointer_tsp"], _tsp_row(1.02))
    assert r.status == "passed" and r.seeds == 3, r.figure
    assert judge(POINTER["pointer_tsp"], _tsp_row(1.02, control=1.2)).status == "inconclusive"


def test_augment_keeps_tours_optimal_and_canonical():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(6, 6, 2, generator=g)
    tours, opt = held_karp(pts)
    new_pts, new_tours = augment(pts, tours, g)
    again, again_opt = held_karp(new_pts)
    assert torch.equal(new_tours, again)
    assert torch.allclose(again_opt, opt) and torch.allclose(tour_length(new_pts, new_tours), opt)
    assert not torch.equal(new_pts, pts)


def test_hull_baselines_and_scores_against_direct_computation():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(10, 2, generator=g).tolist()
    hull = monotone_chain(pts)
    base = hull_baselines(pts, hull, g)
    assert base["input_order"] == list(range(10))
    assert len(base["random_subset"]) == len(base["farthest"]) == len(hull)
    assert is_simple_polygon([tuple(pts[i]) for i in angular_order(pts, hull)])
    s = hull_scores([pts], [hull], {"exact": [hull], "rotated": [hull[1:] + hull[:1]], "bad": [[0, 1]]})
    assert s["acc_exact"] == 1.0 and s["coverage_exact"] == pytest.approx(1.0)
    assert s["acc_rotated"] == 0.0 and s["coverage_rotated"] == pytest.approx(1.0)
    assert s["coverage_bad"] == 0.0 and s["invalid_bad"] == 1.0


def test_the_cells_run_small_and_their_figures_are_consistent():
    small = {"steps": 3, "batch": 8, "test": 6, "test_long": 3, "d_model": 16, "pool": 20}
    h = pointer_hull(small, 0)
    for n in (5, 10, 15, 20):
        for name in ("beam", "greedy", "input_order", "random_subset", "farthest"):
            assert 0.0 <= h[f"acc_{name}_n{n}"] <= 1.0 and 0.0 <= h[f"coverage_{name}_n{n}"] <= 1.0 + 1e-9
    t = pointer_tsp(small, 0)
    for n in (5, 10, 12):
        assert t[f"ratio_two_opt_n{n}"] >= 1.0 - 1e-9 and t[f"ratio_beam_n{n}"] >= 1.0 - 1e-9
        assert t[f"ratio_random_n{n}"] > t[f"ratio_two_opt_n{n}"]
