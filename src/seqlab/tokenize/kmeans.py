"""k-means for codebooks: k-means++ seeding, Lloyd iterations and mini-batch k-means.

k-means++ (Arthur & Vassilvitskii, "k-means++: The Advantages of Careful Seeding", 2007): the first
centre is a uniform sample; each next centre is sampled with probability ``D(x)^2 / sum D^2``, ``D``
the distance to the nearest chosen centre. Lloyd: ``c_k <- mean{x : argmin_j |x - c_j| = k}``.
Mini-batch k-means (Sculley, "Web-Scale K-Means Clustering", 2010): for each batch, every assigned
``x`` moves its centre by ``c <- c + (x - c) / n_c`` with ``n_c`` the centre's running count.
"""

from __future__ import annotations

import torch


def squared_distances(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``|x_i - c_k|^2`` for ``x: (n, d)``, ``c: (k, d)`` as ``|x|^2 - 2 x.c + |c|^2`` (fast path)."""
    xx = x.pow(2).sum(-1, keepdim=True)
    cc = c.pow(2).sum(-1)
    return torch.addmm(xx + cc, x, c.t(), alpha=-2.0).clamp_min_(0.0)


def squared_distances_reference(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The same distances as a direct sum, one centre at a time (reference for tests)."""
    return torch.stack([((x - c[k]) ** 2).sum(-1) for k in range(c.shape[0])], dim=-1)


def _check(x: torch.Tensor, k: int) -> None:
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"k-means expects a non-empty (n, dim) tensor, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("k-means expects finite vectors, got NaN or inf")
    if x.shape[0] < k:
        raise ValueError(f"k-means with {k} centres needs at least {k} vectors, got {x.shape[0]}")


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` seeds chosen by k-means++ from the rows of ``x: (n, d)``."""
    _check(x, k)
    n = x.shape[0]
    idx = [int(torch.randint(n, (1,), generator=generator))]
    d2 = squared_distances(x, x[idx[0]][None]).squeeze(1)
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0:  # fewer distinct points than k: fall back to uniform picks
            nxt = int(torch.randint(n, (1,), generator=generator))
        else:
            nxt = int(torch.multinomial(d2 / total, 1, generator=generator))
        idx.append(nxt)
        d2 = torch.minimum(d2, squared_distances(x, x[nxt][None]).squeeze(1))
    return x[idx].clone()


def lloyd(x: torch.Tensor, centres: torch.Tensor, iters: int = 10) -> torch.Tensor:
    """Full-batch Lloyd iterations from ``centres``; empty clusters keep their centre."""
    c = centres.clone()
    k = c.shape[0]
    for _ in range(iters):
        assign = squared_distances(x, c).argmin(-1)
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        c[filled] = sums[filled] / counts[filled, None]
    return c


def kmeans(
    x: torch.Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None
) -> torch.Tensor:
    """k-means++ seeding then ``iters`` Lloyd iterations; returns ``(k, d)`` centres."""
    return lloyd(x, kmeans_plus_plus(x, k, generator), iters)


def minibatch_kmeans(
    x: torch.Tensor,
    k: int,
    batch_size: int = 1024,
    steps: int = 100,
    generator: torch.Generator | None = None,
    init_size: int | None = None,
) -> torch.Tensor:
    """Sculley's mini-batch k-means, seeded by k-means++ on a sample of ``init_size`` rows."""
    _check(x, k)
    n = x.shape[0]
    m = min(n, init_size or max(3 * k, batch_size))
    sample = x[torch.randperm(n, generator=generator)[:m]]
    c = kmeans_plus_plus(sample, k, generator)
    counts = torch.zeros(k, dtype=x.dtype)
    for _ in range(steps):
        b = x[torch.randint(n, (min(batch_size, n),), generator=generator)]
        assign = squared_distances(b, c).argmin(-1)
        bc = torch.bincount(assign, minlength=k).to(x.dtype)
        sums = torch.zeros_like(c).index_add_(0, assign, b)
        counts += bc
        hit = bc > 0
        # c <- c + sum_{x in batch->k} (x - c) / n_k, applied per assigned point in closed form
        c[hit] = c[hit] + (sums[hit] - bc[hit, None] * c[hit]) / counts[hit, None]
    return c


def inertia(x: torch.Tensor, c: torch.Tensor) -> float:
    """Mean squared distance of each row of ``x`` to its nearest centre."""
    return float(squared_distances(x, c).min(-1).values.mean())
