"""LiDAR and DiME: two augmentation-based layer-quality metrics, per layer of a language model.

Paper: Skean, Arefin, Zhao, Patel, Naghiyev, LeCun, Shwartz-Ziv, "Does Representation Matter? Exploring
Intermediate Layers in Large Language Models" (arXiv 2412.09563), which scores every layer with prompt
entropy, curvature, InfoNCE (:mod:`seqlab.probe.layers`) and these two view metrics:

- **LiDAR** (Thilak et al., arXiv 2312.04000): every sample ``n`` is a class whose members are its ``K``
  augmented views ``z_{n,k}``. With class means ``mu_n`` and grand mean ``mu``, the between-class scatter
  ``S_b = 1/(N-1) sum_n (mu_n - mu)(mu_n - mu)^T`` and within-class scatter
  ``S_w = 1/(N(K-1)) sum_{n,k} (z_nk - mu_n)(z_nk - mu_n)^T + delta I``, the linear-discriminant matrix
  ``S = S_w^{-1/2} S_b S_w^{-1/2}`` has eigenvalues ``lam``; LiDAR is the smooth effective rank
  ``exp(-sum p log p)`` with ``p = (lam + eps) / sum(lam + eps)``: how many directions separate the
  samples beyond the spread of their augmentations.
- **DiME** (Skean et al., arXiv 2301.08164): a mutual information between two views ``A`` and ``B``
  (``(N, d)`` each, paired by row) from matrix-based Renyi entropies of trace-normalised Gram matrices:
  ``DiME = E_pi[H(K_A o K_B^pi)] - H(K_A o K_B)`` where ``o`` is the Hadamard product (the joint
  entropy) and ``K_B^pi`` the Gram matrix of ``B`` with its rows permuted. Paired views that agree give a
  lower joint entropy than random pairings, so DiME is larger; independent views give about 0. Rows are
  unit-normalised first. The Hadamard product of two Gram matrices is the Gram matrix of the row-wise
  Kronecker products, so the joint entropy reuses :func:`seqlab.probe.layers.renyi_entropy`.
"""

from __future__ import annotations

import math

import torch

from seqlab.probe.layers import INTERMEDIATE, renyi_entropy
from seqlab.registry import register


def _check_views(views) -> torch.Tensor:
    if not isinstance(views, torch.Tensor) or views.dim() != 3 or not views.is_floating_point():
        got = tuple(views.shape) if isinstance(views, torch.Tensor) else type(views).__name__
        raise ValueError(f"lidar expects float views of shape (N samples, K views, d), got {got}")
    n, k, _ = views.shape
    if n < 2 or k < 2:
        raise ValueError(f"lidar needs >= 2 samples and >= 2 views per sample, got N={n}, K={k}")
    if not bool(torch.isfinite(views).all()):
        raise ValueError("lidar: views hold NaN or inf")
    return views.double()


@register("probe", "lidar", implements=INTERMEDIATE, used_by=[INTERMEDIATE.title], family="layers")
def lidar(views: torch.Tensor, delta: float = 1e-4, eps: float = 1e-7) -> float:
    """LiDAR of ``views (N, K, d)``: the smooth effective rank of ``S_w^{-1/2} S_b S_w^{-1/2}``."""
    z = _check_views(views)
    n, k, d = z.shape
    mu_n = z.mean(1)
    mu = mu_n.mean(0)
    cb = mu_n - mu
    s_b = cb.T @ cb / (n - 1)
    cw = (z - mu_n[:, None]).reshape(n * k, d)
    s_w = cw.T @ cw / (n * (k - 1)) + delta * torch.eye(d, dtype=z.dtype)
    w, v = torch.linalg.eigh(s_w)
    inv_sqrt = (v * w.clamp_min(1e-300).rsqrt()) @ v.T
    lam = torch.linalg.eigvalsh(inv_sqrt @ s_b @ inv_sqrt).clamp_min(0.0)
    p = (lam + eps) / (lam + eps).sum()
    return float(torch.exp(-(p * p.log()).sum()))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def joint_entropy(a: torch.Tensor, b: torch.Tensor, alpha: float = 1.0) -> float:
    """``H_alpha(K_A o K_B / tr)`` (bits) of paired rows: the Gram matrix of row-wise Kronecker products."""
    rows = (a[:, :, None] * b[:, None, :]).reshape(len(a), -1)
    return renyi_entropy(rows, alpha)


@register("probe", "dime", implements=INTERMEDIATE, used_by=[INTERMEDIATE.title], family="layers")
def dime(a: torch.Tensor, b: torch.Tensor, alpha: float = 1.0, permutations: int = 8, seed: int = 0) -> float:
    """DiME (bits) between paired views ``a (N, d1)`` and ``b (N, d2)``: mean joint entropy over
    ``permutations`` random re-pairings minus the joint entropy of the true pairing."""
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
            raise ValueError(f"dime expects float matrices (N, d); {name} is not one")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"dime: {name} holds NaN or inf")
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"dime needs the same number N >= 2 of rows in both views, got {len(a)} / {len(b)}")
    if not isinstance(permutations, int) or permutations < 1:
        raise ValueError(f"permutations must be a positive int, got {permutations!r}")
    a, b = _unit_rows(a.double()), _unit_rows(b.double())
    gen = torch.Generator().manual_seed(seed)
    shuffled = [
        joint_entropy(a, b[torch.randperm(len(b), generator=gen)], alpha) for _ in range(permutations)
    ]
    return sum(shuffled) / permutations - joint_entropy(a, b, alpha)


def max_dime(n: int) -> float:
    """The largest joint entropy of ``n`` samples, ``log2 n`` bits: an upper bound on DiME."""
    return math.log2(n)


def view_metrics_of(per_view: list[list[torch.Tensor]], seed: int = 0) -> dict[str, list[float]]:
    """``{"lidar": [...], "dime": [...]}`` per layer from ``per_view[v][layer]`` pooled states ``(N, d)``
    (view 0 = the originals): LiDAR over all views, DiME between views 0 and 1."""
    if len(per_view) < 2:
        raise ValueError(f"view metrics need >= 2 views, got {len(per_view)}")
    out: dict[str, list[float]] = {"lidar": [], "dime": []}
    for layer in range(len(per_view[0])):
        out["lidar"].append(lidar(torch.stack([v[layer] for v in per_view], 1)))
        out["dime"].append(dime(per_view[0][layer], per_view[1][layer], seed=seed))
    return out


def view_metrics(lm, texts: list[str], *, views: int = 3, seed: int = 0) -> dict[str, list[float]]:
    """Per layer of ``lm``: LiDAR over ``views`` versions of each text (the text and ``views - 1``
    augmentations by :func:`seqlab.probe.layers.augment`, mean-pooled states) and DiME between the texts
    and their first augmentation."""
    from seqlab.probe.extract import layer_states
    from seqlab.probe.layers import augment, pooled

    if views < 2:
        raise ValueError(f"views must be >= 2, got {views}")
    per_view = []
    for v in range(views):
        batch = texts if v == 0 else [augment(t, seed * 7919 + 104729 * v + i) for i, t in enumerate(texts)]
        ids, mask = lm.encode(batch)
        per_view.append([pooled(h, mask) for h in layer_states(lm, ids, mask)])
    return view_metrics_of(per_view, seed)
