"""Planar convex hull with pointer outputs ("Pointer Networks", arXiv 1506.03134, Section 4.2).

Input: ``N`` points drawn uniformly from ``[0, 1]^2``. Target: the input positions of the hull's
vertices in counter-clockwise order, starting at the hull vertex with the lowest input index, then
a stop pointer. The stop is an extra input row (the last, position ``N``): every row is
``(x, y, is_stop)``, the points ``(x_i, y_i, 0)`` and the stop ``(0, 0, 1)``, so a batch has inputs
``(n, N + 1, 3)``, targets ``(n, N + 1)`` (``h`` vertices, the stop ``N``, then 0 where the mask is
false) -- the format of the ``pointer_network`` model with ``stop_last=True``.

The exact solver is Andrew's monotone chain: sort by ``(x, y)``, build the lower and upper chains,
popping the last vertex while it does not make a strict left turn,

    cross(o, a, b) = (a_x - o_x)(b_y - o_y) - (a_y - o_y)(b_x - o_x) <= 0  ->  pop,

so collinear points are not vertices. Metrics (:func:`area_coverage`, :func:`exact_match`): the
paper's "area" -- the area of the output polygon over the true hull's area, by the shoelace formula
``A = 1/2 |sum_i x_i y_{i+1} - x_{i+1} y_i|``, and 0 when the output is not a simple polygon with at
least three vertices -- and exact-sequence accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.point_sets import PointSetTask

Point = tuple[float, float]


def cross(o: Point, a: Point, b: Point) -> float:
    """z-component of ``(a - o) x (b - o)``: > 0 when ``o -> a -> b`` turns left (counter-clockwise)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def monotone_chain(points: Sequence[Point]) -> list[int]:
    """Indices of the convex hull's vertices, counter-clockwise from the lowest index (Andrew 1979).

    Collinear boundary points are not vertices. Fewer than three distinct points: their indices in
    input order (no polygon).
    """
    pts = [(float(p[0]), float(p[1])) for p in points]
    order = sorted(range(len(pts)), key=lambda i: (pts[i][0], pts[i][1], i))
    if len(order) < 3:
        return sorted(order)

    def chain(idx):
        out: list[int] = []
        for i in idx:
            while len(out) >= 2 and cross(pts[out[-2]], pts[out[-1]], pts[i]) <= 0:
                out.pop()
            out.append(i)
        return out

    lower, upper = chain(order), chain(reversed(order))
    hull = lower[:-1] + upper[:-1]  # counter-clockwise, starting at the leftmost point
    start = hull.index(min(hull))
    return hull[start:] + hull[:start]


def polygon_area(points: Sequence[Point]) -> float:
    """Signed area by the shoelace formula (> 0 for counter-clockwise vertices)."""
    n = len(points)
    return 0.5 * sum(
        points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n)
    )


def _segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Closed segments ``p1p2`` and ``q1q2`` share a point (touching and collinear overlap count)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and ((d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)):
        return True

    def on(a, b, c, d):  # c on segment ab given cross d == 0
        return (
            d == 0
            and min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
            and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
        )

    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def is_simple_polygon(points: Sequence[Point]) -> bool:
    """At least three distinct vertices and no two non-adjacent edges meet."""
    n = len(points)
    if n < 3 or len(set(points)) != n:
        return False
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                continue  # adjacent edges share a vertex
            if _segments_intersect(*edges[i], *edges[j]):
                return False
    return True


def area_coverage(points: Sequence[Point], pred: Sequence[int], hull: Sequence[int] | None = None) -> float:
    """The paper's "area": area of the polygon ``pred`` / area of the true hull; 0 if not a simple polygon."""
    hull = monotone_chain(points) if hull is None else list(hull)
    poly = [tuple(points[i]) for i in pred]
    if len(set(pred)) != len(pred) or not is_simple_polygon(poly):
        return 0.0
    return abs(polygon_area(poly)) / abs(polygon_area([tuple(points[i]) for i in hull]))


def exact_match(pred: Sequence[int], hull: Sequence[int]) -> bool:
    """The output sequence equals the target (same vertices, same order, same start)."""
    return list(pred) == list(hull)


def strip_stop(row: Sequence[int], stop: int) -> list[int]:
    """The pointer outputs of one row up to (not including) the first ``stop``."""
    out = []
    for i in row:
        if int(i) == stop:
            break
        out.append(int(i))
    return out


@register(
    "task",
    "convex_hull",
    implements=Paper("Pointer Networks", "1506.03134"),
    used_by=["Pointer Networks"],
    description="planar convex hull of N uniform points: hull vertices counter-clockwise from the lowest "
    "index, then a stop pointer (pointer output)",
    metric="accuracy",
)
@dataclass
class ConvexHull(PointSetTask):
    """Hull vertices counter-clockwise from the lowest index, then the stop row ``N``."""

    d_input: int = field(default=3, init=False)

    def __post_init__(self):
        self.check_points("convex_hull", 3)
        self.n_outputs = self.max_test_points + 1

    def generate(self, n, length, generator):
        N = self.pick_length(length, generator)
        pts = torch.rand(n, N, 2, generator=generator)
        stop = torch.zeros(n, 1, 3)
        stop[..., 2] = 1.0
        inputs = torch.cat([torch.cat([pts, torch.zeros(n, N, 1)], -1), stop], 1)
        targets = torch.zeros(n, N + 1, dtype=torch.long)
        mask = torch.zeros(n, N + 1, dtype=torch.bool)
        for r, row in enumerate(pts.tolist()):
            hull = monotone_chain(row) + [N]
            targets[r, : len(hull)] = torch.tensor(hull)
            mask[r, : len(hull)] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}
