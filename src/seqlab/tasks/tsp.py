"""Planar symmetric travelling salesman with pointer outputs ("Pointer Networks", arXiv 1506.03134, 4.4).

Input: ``N`` points uniform in ``[0, 1]^2`` (``(n, N, 2)``). Target: the optimal closed tour as
``N`` input positions, in canonical form -- it starts at point 0 and, of its two directions, takes
the one whose second point has the smaller index than its last -- so every instance has exactly one
target. Tour length ``sum_i |p_{t_i} - p_{t_{i+1}}|`` includes the closing edge back to the start.

The exact solver is the Held-Karp dynamic programme over subsets, batched over instances,

    D(S, j) = min_{k in S \\ {j}} D(S \\ {j}, k) + d(k, j),   D({0}, 0) = 0,
    OPT = min_j D(V, j) + d(j, 0),

layer by layer in ``|S|`` (``O(2^N N^2)`` per instance; exact targets for ``N <= 12``). Baselines:
a random tour, the nearest-neighbour heuristic from point 0, and 2-opt (reversing a segment while
that shortens the tour) started from nearest neighbour.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.point_sets import PointSetTask

MAX_EXACT = 12


def distances(points: torch.Tensor) -> torch.Tensor:
    """Euclidean distance matrices ``(B, N, N)`` of ``points`` ``(B, N, 2)``, in float64."""
    p = points.double()
    return (p[:, :, None, :] - p[:, None, :, :]).pow(2).sum(-1).sqrt()


def tour_length(points: torch.Tensor, tours: torch.Tensor) -> torch.Tensor:
    """Closed-tour lengths ``(B,)`` of ``tours`` ``(B, N)`` (input positions) of ``points`` ``(B, N, 2)``."""
    p = points.double().gather(1, tours[..., None].expand(-1, -1, points.shape[-1]))
    return (p - p.roll(-1, dims=1)).pow(2).sum(-1).sqrt().sum(1)


def canonical(tour: list[int]) -> list[int]:
    """The same closed tour starting at 0, in the direction whose second point is below its last."""
    t = list(tour)
    i = t.index(0)
    t = t[i:] + t[:i]
    if len(t) > 2 and t[1] > t[-1]:
        t = [t[0]] + t[1:][::-1]
    return t


@cache
def _layers(n: int):
    """For each subset size s = 2..n: the masks containing city 0, and for each (mask, j) mask ^ (1 << j)."""
    bits = torch.tensor([1 << j for j in range(n)])
    out = []
    for s in range(2, n + 1):
        masks = torch.tensor([1 | sum(1 << j for j in c) for c in itertools.combinations(range(1, n), s - 1)])
        member = (masks[:, None] & bits[None, :]) != 0
        member[:, 0] = False  # the tour never returns to 0 before the end
        out.append((masks, masks[:, None] ^ bits[None, :], member))
    return out


def held_karp(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimal tours ``(B, N)`` (canonical form) and their lengths ``(B,)`` of ``points`` ``(B, N, 2)``."""
    if points.dim() != 3 or points.shape[-1] != 2:
        raise ValueError(f"held_karp expects points of shape (batch, N, 2), got {tuple(points.shape)}")
    b, n, _ = points.shape
    if not 1 <= n <= MAX_EXACT:
        raise ValueError(f"held_karp is exact for 1 <= N <= {MAX_EXACT} points, got N={n}")
    if n <= 3:  # every tour has the same length
        tours = torch.arange(n).expand(b, n).clone()
        return tours, tour_length(points, tours)
    d = distances(points)
    # dp[S, b, j]: the shortest path from 0 through the cities of S, ending at j (S a bit mask)
    dp = torch.full((1 << n, b, n), float("inf"), dtype=torch.float64)
    parent = torch.zeros((1 << n, b, n), dtype=torch.long)
    dp[1, :, 0] = 0.0
    d_in = d.permute(2, 0, 1)  # d_in[j, b, k] = d(k, j)
    for masks, prev, member in _layers(n):
        cand = dp[prev] + d_in  # (M, j, B, k): arrive at j from k
        best, arg = cand.min(-1)
        best = best.masked_fill(~member[:, :, None], float("inf"))
        dp[masks] = best.transpose(1, 2)
        parent[masks] = arg.transpose(1, 2)
    full = (1 << n) - 1
    total = dp[full] + d[:, :, 0]
    length, j = total.min(-1)
    rows = torch.arange(b)
    mask = torch.full((b,), full, dtype=torch.long)
    back = [j]
    for _ in range(n - 2):
        mask, j = mask ^ (1 << j), parent[mask, rows, j]
        back.append(j)
    paths = torch.stack(back[::-1], 1).tolist()
    tours = torch.tensor([canonical([0, *p]) for p in paths], dtype=torch.long)
    return tours, length


def brute_force_tsp(points: torch.Tensor) -> tuple[list[int], float]:
    """Optimal tour of one instance ``(N, 2)`` by trying every permutation of points 1..N-1 (small N)."""
    n = points.shape[0]
    best, best_len = None, float("inf")
    for perm in itertools.permutations(range(1, n)):
        t = torch.tensor([[0, *perm]])
        length = float(tour_length(points[None], t)[0])
        if length < best_len - 1e-12:
            best, best_len = [0, *perm], length
    return canonical(best), best_len


def nearest_neighbour(points: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour tours ``(B, N)`` from point 0: always go to the closest unvisited point."""
    d = distances(points)
    b, n, _ = d.shape
    rows = torch.arange(b)
    cur = torch.zeros(b, dtype=torch.long)
    seen = torch.zeros(b, n, dtype=torch.bool)
    seen[:, 0] = True
    out = [cur]
    for _ in range(n - 1):
        nxt = d[rows, cur].masked_fill(seen, float("inf")).argmin(-1)
        seen[rows, nxt] = True
        out.append(nxt)
        cur = nxt
    return torch.stack(out, 1)


def two_opt(points: torch.Tensor, tours: torch.Tensor) -> torch.Tensor:
    """2-opt local search: reverse ``t[i..k]`` while that shortens the tour (first improvement)."""
    out = tours.clone()
    d = distances(points)
    n = tours.shape[1]
    for r in range(tours.shape[0]):
        t, dm = out[r].tolist(), d[r]
        improved = True
        while improved:
            improved = False
            for i in range(1, n - 1):
                for k in range(i + 1, n):
                    a, b_, c, e = t[i - 1], t[i], t[k], t[(k + 1) % n]
                    if dm[a, c] + dm[b_, e] < dm[a, b_] + dm[c, e] - 1e-12:
                        t[i : k + 1] = t[i : k + 1][::-1]
                        improved = True
        out[r] = torch.tensor(t)
    return out


def random_tours(b: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """Uniformly random permutations ``(b, n)``."""
    return torch.rand(b, n, generator=generator).argsort(-1)


@register(
    "task",
    "tsp",
    implements=Paper("Pointer Networks", "1506.03134"),
    used_by=["Pointer Networks"],
    description="planar symmetric TSP of N uniform points: the optimal tour (Held-Karp) from point 0 in "
    "canonical direction (pointer output)",
    metric="accuracy",
)
@dataclass
class TSP(PointSetTask):
    """Targets are the optimal tour's input positions (canonical start and direction)."""

    max_test_points: int = 12
    d_input: int = field(default=2, init=False)

    def __post_init__(self):
        self.check_points("tsp", 4, MAX_EXACT)  # exact Held-Karp targets
        self.n_outputs = self.max_test_points

    def generate(self, n, length, generator):
        N = self.pick_length(length, generator)
        if N > MAX_EXACT:
            raise ValueError(f"tsp: exact targets only for N <= {MAX_EXACT} points, got length={N}")
        pts = torch.rand(n, N, 2, generator=generator)
        tours, _ = held_karp(pts)
        return {"inputs": pts, "targets": tours, "mask": torch.ones(n, N, dtype=torch.bool)}
