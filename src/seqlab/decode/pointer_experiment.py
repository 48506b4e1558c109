"""Experiment cells ``decode.pointer_hull`` and ``decode.pointer_tsp``: the geometric problems of
"Pointer Networks" (Vinyals, Fortunato, Jaitly; arXiv 1506.03134).

Each cell trains a small pointer network (:class:`seqlab.models.pointer.PointerNetwork`: a set
encoder of non-causal attention blocks without positions, the read-process-write summary, an LSTM
decoder pointing by additive attention) with teacher forcing and cross-entropy on ``N = 5..10``
points, then decodes held-out instances (the tasks' test seed range) greedily and by beam search
(:mod:`seqlab.decode.pointer`) and scores them against the exact solutions and trivial baselines.

- Convex hull (:mod:`seqlab.tasks.convex_hull`): exact-sequence accuracy and area coverage (the
  paper's "area"; 0 for an output that is not a simple polygon) at ``N = 5`` and ``10`` (trained)
  and ``15``, ``20`` (longer than trained). Baselines: all points in input order; a random subset of
  the true hull's size and the same number of points farthest from the centroid, both in angular
  order around their centroid.
- TSP (:mod:`seqlab.tasks.tsp`): ratio of mean tour lengths to the optimum (Held-Karp) at ``N = 5``,
  ``10`` and ``12``. Training instances come from a pool solved once per length, each drawn with a
  fresh random relabelling of its points and one of the 8 symmetries of the square (both keep the
  tour optimal; the target is re-canonicalised). Baselines: random tour, nearest neighbour, 2-opt
  from nearest neighbour.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from seqlab.registry import experiment

HULL_DEFAULTS = dict(
    d_model=64,
    n_layers=2,
    n_heads=4,
    steps=1500,
    batch=128,
    lr=1e-3,
    min_points=5,
    max_points=10,
    test=500,
    test_long=200,
    num_beams=4,
    positions=None,
)
TSP_DEFAULTS = dict(HULL_DEFAULTS, pool=2000)


def make_pointer_net(d_input: int, p: dict, stop_last: bool = False):
    from seqlab.models.pointer import PointerNetwork

    return PointerNetwork(
        d_input=d_input,
        d_model=p["d_model"],
        mixer="attention",
        n_layers=p["n_layers"],
        mixer_cfg={"n_heads": p["n_heads"], "pos": "none"},
        mask_chosen=True,
        stop_last=stop_last,
        positions=p.get("positions"),
    )


def pointer_loss(model, batch: dict) -> torch.Tensor:
    """Mean cross-entropy of the teacher-forced pointer logits over the labelled (mask) positions."""
    logits = model(batch["inputs"], batch["targets"])
    m = batch["mask"]
    return F.cross_entropy(logits[m], batch["targets"][m])


def fit(model, next_batch, steps: int, lr: float, seed: int) -> float:
    """Adam with gradient-norm clipping at 1; returns the mean loss of the last 10% of the steps."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    tail = []
    for step in range(steps):
        loss = pointer_loss(model, next_batch(step))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step >= steps - max(1, steps // 10):
            tail.append(loss.item())
    model.eval()
    return sum(tail) / len(tail) if tail else float("nan")


def _decode(model, x, num_beams):
    from seqlab.decode.pointer import pointer_beam, pointer_greedy

    with torch.no_grad():
        return {"greedy": pointer_greedy(model, x), "beam": pointer_beam(model, x, num_beams)[0]}


# -- convex hull ------------------------------------------------------------------------------------
def angular_order(points: list, idx: list[int]) -> list[int]:
    """``idx`` sorted by angle around the centroid of their points."""
    cx = sum(points[i][0] for i in idx) / len(idx)
    cy = sum(points[i][1] for i in idx) / len(idx)
    return sorted(idx, key=lambda i: math.atan2(points[i][1] - cy, points[i][0] - cx))


def hull_baselines(points: list, hull: list[int], generator: torch.Generator) -> dict[str, list[int]]:
    """Trivial hull outputs: input order; a random subset and the farthest-from-centroid points of the
    hull's size, each in angular order."""
    n, h = len(points), len(hull)
    rand = torch.randperm(n, generator=generator)[:h].tolist()
    cx = sum(p[0] for p in points) / n
    cy = sum(p[1] for p in points) / n
    far = sorted(range(n), key=lambda i: -((points[i][0] - cx) ** 2 + (points[i][1] - cy) ** 2))[:h]
    return {
        "input_order": list(range(n)),
        "random_subset": angular_order(points, rand),
        "farthest": angular_order(points, far),
    }


def hull_scores(points: list, hulls: list, outputs: dict[str, list]) -> dict[str, float]:
    """Exact-sequence accuracy and mean area coverage of each output (lists of vertex indices per
    instance), and the rate of outputs that are not simple polygons."""
    from seqlab.tasks.convex_hull import area_coverage, exact_match

    pts = points
    out = {}
    for name, rows in outputs.items():
        cov = [area_coverage(pts[r], rows[r], hulls[r]) for r in range(len(rows))]
        out[f"acc_{name}"] = sum(exact_match(rows[r], hulls[r]) for r in range(len(rows))) / len(rows)
        out[f"coverage_{name}"] = sum(cov) / len(cov)
        out[f"invalid_{name}"] = sum(c == 0.0 for c in cov) / len(cov)
    return out


@experiment("decode.pointer_hull")
def pointer_hull(params: dict, seed: int) -> dict:
    """Train on hulls of 5..10 points; accuracy / coverage of greedy and beam decoding and baselines."""
    from seqlab.tasks.convex_hull import ConvexHull, strip_stop

    p = {**HULL_DEFAULTS, **params}
    torch.manual_seed(seed)
    task = ConvexHull(min_points=p["min_points"], max_train_points=p["max_points"], max_test_points=20)
    model = make_pointer_net(3, p, stop_last=True)
    loss = fit(model, lambda s: task.sample(p["batch"], seed=seed * 1_000_003 + s), p["steps"], p["lr"], seed)
    out = {"train_loss": loss}
    g = torch.Generator().manual_seed(seed)
    for n, size in ((5, p["test"]), (10, p["test"]), (15, p["test_long"]), (20, p["test_long"])):
        b = task.sample(size, seed=seed, split="test", length=n)
        dec = {
            k: [strip_stop(row, n) for row in v.tolist()]
            for k, v in _decode(model, b["inputs"], p["num_beams"]).items()
        }
        pts = b["inputs"][:, :-1, :2].tolist()
        hulls = [strip_stop(row, n) for row in b["targets"].tolist()]
        base = [hull_baselines(pts[r], hulls[r], g) for r in range(size)]
        for name in ("input_order", "random_subset", "farthest"):
            dec[name] = [bl[name] for bl in base]
        for k, v in hull_scores(pts, hulls, dec).items():
            out[f"{k}_n{n}"] = v
    return out


# -- TSP ------------------------------------------------------------------------------------------
SQUARE_SYMMETRIES = [(swap, fx, fy) for swap in (False, True) for fx in (False, True) for fy in (False, True)]


def augment(points: torch.Tensor, tours: torch.Tensor, generator: torch.Generator):
    """Relabel every instance's points at random and apply a random symmetry of the unit square;
    the optimal tour follows (re-canonicalised)."""
    from seqlab.tasks.tsp import canonical

    b, n, _ = points.shape
    perm = torch.rand(b, n, generator=generator).argsort(-1)  # new position q holds old point perm[q]
    inv = perm.argsort(-1)
    pts = points.gather(1, perm[..., None].expand(-1, -1, 2))
    sym = torch.randint(len(SQUARE_SYMMETRIES), (b,), generator=generator).tolist()
    for r, s in enumerate(sym):
        swap, fx, fy = SQUARE_SYMMETRIES[s]
        q = pts[r].flip(-1) if swap else pts[r]
        q = torch.stack([1 - q[:, 0] if fx else q[:, 0], 1 - q[:, 1] if fy else q[:, 1]], -1)
        pts[r] = q
    new = inv.gather(1, tours)
    return pts, torch.tensor([canonical(t) for t in new.tolist()], dtype=torch.long)


@experiment("decode.pointer_tsp")
def pointer_tsp(params: dict, seed: int) -> dict:
    """Train on optimal tours of 5..10 points; tour length / optimal of greedy, beam and baselines."""
    from seqlab.tasks.tsp import TSP, canonical, nearest_neighbour, random_tours, tour_length, two_opt

    p = {**TSP_DEFAULTS, **params}
    torch.manual_seed(seed)
    task = TSP(min_points=p["min_points"], max_train_points=p["max_points"], max_test_points=12)
    lengths = list(task.train_lengths)
    pools = {n: task.sample(p["pool"], seed=seed * 1_000_003 + n, length=n) for n in lengths}
    g = torch.Generator().manual_seed(seed)

    def next_batch(step):
        n = lengths[int(torch.randint(len(lengths), (1,), generator=g))]
        pick = torch.randint(p["pool"], (p["batch"],), generator=g)
        pts, tours = augment(pools[n]["inputs"][pick], pools[n]["targets"][pick], g)
        return {"inputs": pts, "targets": tours, "mask": torch.ones_like(tours, dtype=torch.bool)}

    model = make_pointer_net(2, p)
    out = {"train_loss": fit(model, next_batch, p["steps"], p["lr"], seed)}
    for n, size in ((5, p["test"]), (10, p["test"]), (12, p["test_long"])):
        b = task.sample(size, seed=seed, split="test", length=n)
        x, opt = b["inputs"], tour_length(b["inputs"], b["targets"]).mean()
        nn_tours = nearest_neighbour(x)
        tours = {
            **_decode(model, x, p["num_beams"]),
            "random": random_tours(size, n, g),
            "nearest_neighbour": nn_tours,
            "two_opt": two_opt(x, nn_tours),
        }
        out[f"optimal_length_n{n}"] = float(opt)
        for name, t in tours.items():
            out[f"ratio_{name}_n{n}"] = float(tour_length(x, t).mean() / opt)
        same = [canonical(t) == y for t, y in zip(tours["beam"].tolist(), b["targets"].tolist())]
        out[f"acc_beam_n{n}"] = sum(same) / size
    return out
