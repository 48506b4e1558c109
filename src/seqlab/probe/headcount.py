"""The head-count theorem: how many attention-style heads an operator needs.

Paper: "How Many Heads Make an SSM? A Unified Framework for Attention and State Space Models"
(arXiv 2512.15115). In the multi-head factorized class an operator has the form

    W_ij = sum_{h=1..H} alpha^h_ij V^h          (alpha^h_ij scalars, V^h fixed D x D value maps)

(H-head attention: ``alpha^h`` the head's scores, ``V^h = W_O^h W_V^h``). A linear SSM
``x_t = A x_{t-1} + B u_t``, ``y_t = C x_t`` has lag operators ``W_ij = T_{i-j} = C A^{i-j} B``; when
they span a ``k``-dimensional subspace of ``D x D`` matrices (a ``k``-dimensional diagonal SSM
with distinct modes, ``k <= D^2``, length ``>= k``), ``H = k`` heads represent it exactly and
``H < k`` heads cannot.

Measured here: stack the ``D x D`` blocks ``W_ij`` of the allowed pairs (``j <= i`` when causal) as
rows of a ``(pairs, D^2)`` matrix ``M``. The best ``H``-head fit (free ``alpha``, free ``V``) is the
best rank-``H`` approximation of ``M`` (Eckart-Young), so its relative error is
``sqrt(sum_{r > H} s_r^2 / sum_r s_r^2)`` over the singular values ``s`` of ``M``.
:func:`factorized_fit` is the same fit by alternating least squares (the tests compare them).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.operator import interaction
from seqlab.registry import create


def pair_matrix(W: torch.Tensor, causal: bool = True) -> torch.Tensor:
    """``(pairs, D*D)``: the blocks ``W_ij`` of a ``(L, L, D, D)`` operator, ``j <= i`` if causal."""
    if W.dim() != 4 or W.shape[0] != W.shape[1] or W.shape[2] != W.shape[3]:
        raise ValueError(f"expected an operator of shape (L, L, D, D), got {tuple(W.shape)}")
    length = W.shape[0]
    keep = torch.ones(length, length, dtype=torch.bool, device=W.device)
    if causal:
        keep = keep.tril()
    return W[keep].flatten(1)


def head_errors(W: torch.Tensor, max_heads: int, causal: bool = True) -> list[float]:
    """Relative error of the best ``H``-head factorized fit of ``W (L, L, D, D)``, ``H = 0..max_heads``."""
    if not isinstance(max_heads, int) or max_heads < 0:
        raise ValueError(f"max_heads must be an int >= 0, got {max_heads!r}")
    s2 = torch.linalg.svdvals(pair_matrix(W.detach(), causal).double()) ** 2
    total = s2.sum()
    if not total > 0:
        raise ValueError("the operator is zero: no head count to measure")
    tail = s2.flip(0).cumsum(0).flip(0)  # tail[r] = sum of s^2 from index r on
    return [float((tail[h] / total).sqrt()) if h < len(s2) else 0.0 for h in range(max_heads + 1)]


def heads_needed(W: torch.Tensor, tol: float = 1e-6, causal: bool = True) -> int:
    """The smallest ``H`` whose best fit has relative error below ``tol``."""
    d2 = W.shape[-1] ** 2
    errors = head_errors(W, d2, causal)
    return next(h for h, e in enumerate(errors) if e < tol)


def factorized_fit(
    W: torch.Tensor, heads: int, iters: int = 300, causal: bool = True, seed: int = 0
) -> float:
    """The ``H``-head fit by alternating least squares: ``alpha`` given ``V``, then ``V`` given ``alpha``.

    Returns the relative error ``||M - alpha V|| / ||M||`` (a reference for :func:`head_errors`).
    """
    M = pair_matrix(W, causal).double()
    gen = torch.Generator().manual_seed(seed)
    V = torch.randn(heads, M.shape[1], generator=gen, dtype=M.dtype)
    for _ in range(iters):
        alpha = torch.linalg.lstsq(V.T, M.T).solution.T  # (pairs, H)
        V = torch.linalg.lstsq(alpha, M).solution  # (H, D*D)
    return float(torch.linalg.norm(M - alpha @ V) / torch.linalg.norm(M))


def attention_full_operator(m, x: torch.Tensor) -> torch.Tensor:
    """The ``(B, L, L, D, D)`` operator of an attention mixer: ``sum_h a^h_ij W_O^h W_V^h``."""
    W = interaction(m, x).W  # (B, H, L, L)
    h, dh, d = m.n_heads, m.d_head, m.d_model
    w_v = m.qkv.weight[2 * d :].view(h, dh, d)
    w_o = m.out.weight.view(d, h, dh).transpose(0, 1)  # (H, D, dh)
    maps = w_o @ w_v  # (H, D, D)
    return torch.einsum("bhij,hde->bijde", W, maps)


@experiment("probe.head_count")
def head_count(params: dict, seed: int) -> dict:
    """Heads needed by a ``k``-dimensional SSM (LRU, ``k = 2 * d_state`` real dims, no skip) and, as
    the positive control, by ``n_heads``-head attention, on ``length``-token operators."""
    d, n, length = params.get("d_model", 8), params.get("d_state", 3), params.get("length", 32)
    n_heads = params.get("n_heads", 2)
    k = 2 * n
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    lru = create("mixer", "lru", d_model=d, d_state=n, r_min=0.5, r_max=0.95, seed=seed).double()
    with torch.no_grad():
        lru.D.zero_()  # the skip D u_t is no state; without it the lags span exactly k dims
        x = torch.randn(1, length, d, generator=gen, dtype=torch.float64)
        ssm = head_errors(interaction(lru, x).W[0], k + 2)
        att = create("mixer", "attention", d_model=d, n_heads=n_heads, pos="none").double()
        ctl = head_errors(attention_full_operator(att, x)[0], n_heads + 1)
    return {
        "k": k,
        "errors": ssm,
        "error_at_k": ssm[k],
        "error_below_k": ssm[k - 1],
        "control_error": ctl[n_heads],
        "control_error_below": ctl[n_heads - 1],
        "heads_needed": next(h for h, e in enumerate(ssm) if e < 1e-6),
    }
