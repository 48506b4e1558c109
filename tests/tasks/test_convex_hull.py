"""Convex hull task: the monotone chain against brute force, the area metric, the batch format."""

import itertools

import pytest
import torch

from seqlab.registry import create
from seqlab.tasks.convex_hull import (
    area_coverage,
    cross,
    exact_match,
    is_simple_polygon,
    monotone_chain,
    polygon_area,
    strip_stop,
)


def _in_triangle(p, a, b, c):
    d = [cross(a, b, p), cross(b, c, p), cross(c, a, p)]
    return all(x >= 0 for x in d) or all(x <= 0 for x in d)


def brute_force_vertices(pts):
    """A point is a hull vertex iff no triangle of three other points contains it (O(n^4))."""
    out = set()
    for i, p in enumerate(pts):
        others = [q for j, q in enumerate(pts) if j != i]
        if not any(_in_triangle(p, *t) for t in itertools.combinations(others, 3)):
            out.add(i)
    return out


@pytest.mark.parametrize("n", [3, 4, 5, 7, 9])
def test_monotone_chain_against_brute_force(n):
    g = torch.Generator().manual_seed(n)
    for _ in range(15):
        pts = torch.rand(n, 2, generator=g).tolist()
        hull = monotone_chain(pts)
        assert set(hull) == brute_force_vertices(pts)
        assert hull[0] == min(hull), "starts at the lowest-index vertex"
        h = len(hull)
        for e in range(h):  # every hull edge has all points on its left: counter-clockwise, convex
            a, b = pts[hull[e]], pts[hull[(e + 1) % h]]
            assert all(cross(a, b, p) >= -1e-12 for p in pts)
        assert polygon_area([pts[i] for i in hull]) > 0


def test_collinear_and_tiny_inputs():
    # a square with a point in the middle of an edge and one inside: the edge point is no vertex
    pts = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.4, 0.6)]
    assert monotone_chain(pts) == [0, 2, 3, 4]
    assert monotone_chain([(0.3, 0.1), (0.1, 0.2)]) == [0, 1]


def test_area_and_simple_polygons():
    sq = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert polygon_area(sq) == pytest.approx(1.0)
    assert polygon_area(sq[::-1]) == pytest.approx(-1.0)
    assert polygon_area([(0.0, 0.0), (2.0, 0.0), (0.0, 3.0)]) == pytest.approx(3.0)
    assert is_simple_polygon(sq)
    assert not is_simple_polygon([sq[0], sq[2], sq[1], sq[3]])  # a bow tie
    assert not is_simple_polygon(sq[:2])
    assert not is_simple_polygon([sq[0], sq[1], sq[0], sq[3]])  # repeated vertex


def test_area_coverage():
    pts = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.5, 0.5)]
    hull = monotone_chain(pts)
    assert hull == [0, 1, 2, 3]
    assert area_coverage(pts, hull) == pytest.approx(1.0)
    assert area_coverage(pts, hull[::-1]) == pytest.approx(1.0)  # clockwise: same polygon
    assert area_coverage(pts, [0, 1, 2]) == pytest.approx(0.5)
    assert area_coverage(pts, [0, 1, 4, 3]) == pytest.approx(0.5)  # a dent to the centre
    assert area_coverage(pts, [0, 2, 1, 3]) == 0.0  # self-intersecting
    assert area_coverage(pts, [0, 1]) == 0.0  # no polygon
    assert area_coverage(pts, [0, 1, 1, 2]) == 0.0  # repeated vertex
    assert exact_match([0, 1, 2, 3], hull) and not exact_match([1, 2, 3, 0], hull)


def test_batch_format_stop_row_and_targets():
    task = create("task", "convex_hull")
    b = task.sample(8, seed=0, length=7)
    x, y, m = b["inputs"], b["targets"], b["mask"]
    assert x.shape == (8, 8, 3) and y.shape == (8, 8) and m.shape == (8, 8)
    assert torch.equal(x[:, -1], torch.tensor([0.0, 0.0, 1.0]).expand(8, 3))
    assert (x[:, :-1, 2] == 0).all()
    for r in range(8):
        seq = y[r][m[r]].tolist()
        assert seq[-1] == 7 and strip_stop(y[r].tolist(), 7) == seq[:-1]
        assert seq[:-1] == monotone_chain(x[r, :-1, :2].tolist())
        assert (y[r][~m[r]] == 0).all()


def test_train_and_test_lengths_and_bad_arguments():
    task = create("task", "convex_hull", min_points=4, max_train_points=6, max_test_points=9)
    assert list(task.train_lengths) == [4, 5, 6] and list(task.test_lengths) == [7, 8, 9]
    with pytest.raises(ValueError, match="min_points <= max_train_points < max_test_points"):
        create("task", "convex_hull", max_train_points=10, max_test_points=8)
    with pytest.raises(ValueError, match="min_points must be an int >= 3"):
        create("task", "convex_hull", min_points=2)
    with pytest.raises(ValueError, match="length"):
        task.sample(2, seed=0, length=2)
