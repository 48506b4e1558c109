"""Continual-learning metrics: pure functions over an accuracy matrix and related records.

``R[i, j]`` is the accuracy on experience ``j`` after training on experiences ``0..i``
(Lopez-Paz & Ranzato's matrix, as used in "Three scenarios for continual learning", arXiv 1904.07734).
With ``T`` experiences:

- average accuracy   ``A = (1/T) sum_j R[T-1, j]``
- forgetting         ``F = 1/(T-1) sum_{j<T-1} (max_{i<T-1} R[i, j] - R[T-1, j])``
- backward transfer  ``BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j])``
- forward transfer   ``FWT = 1/(T-1) sum_{j>0} (R[j-1, j] - b[j])`` with ``b`` the accuracy at init
- online accuracy    mean of the prequential (test-then-train) accuracy of each incoming batch
- minimum accuracy   mean over old experiences of the lowest accuracy seen after they were learned
  (stability along the stream, "A Comprehensive Empirical Evaluation on Online Continual Learning")

Compatibility ("CL2R: Compatible Lifelong Learning Representations"): ``M[i, j]``
is the retrieval accuracy with queries embedded by model ``i`` and the gallery by model ``j``.
The empirical compatibility criterion holds for ``i > j`` when ``M[i, j] > M[j, j]``;
``AC = 2/(T(T-1)) sum_{i>j} 1[M[i, j] > M[j, j]]`` and ``AM = 2/(T(T+1)) sum_{i>=j} M[i, j]``.
"""

from __future__ import annotations

import torch


def _square(R) -> torch.Tensor:
    R = torch.as_tensor(R, dtype=torch.float64)
    if R.dim() != 2 or R.shape[0] != R.shape[1] or R.shape[0] == 0:
        raise ValueError(f"expected a non-empty square matrix (T, T), got shape {tuple(R.shape)}")
    if not torch.isfinite(R).all():
        raise ValueError("matrix contains NaN or inf")
    return R


def average_accuracy(R) -> float:
    R = _square(R)
    return float(R[-1].mean())


def forgetting(R) -> float:
    R = _square(R)
    T = R.shape[0]
    if T < 2:
        return 0.0
    best = R[:-1, :-1].max(dim=0).values
    return float((best - R[-1, :-1]).mean())


def backward_transfer(R) -> float:
    R = _square(R)
    T = R.shape[0]
    if T < 2:
        return 0.0
    return float((R[-1, :-1] - R.diagonal()[:-1]).mean())


def forward_transfer(R, baseline) -> float:
    R = _square(R)
    b = torch.as_tensor(baseline, dtype=torch.float64)
    T = R.shape[0]
    if b.shape != (T,):
        raise ValueError(f"baseline must have shape ({T},), got {tuple(b.shape)}")
    if T < 2:
        return 0.0
    return float((R[:-1, 1:].diagonal() - b[1:]).mean())


def online_accuracy(correct) -> float:
    """Mean of per-batch prequential accuracies (each evaluated before training on that batch)."""
    c = torch.as_tensor(correct, dtype=torch.float64)
    if c.numel() == 0:
        raise ValueError("online_accuracy needs at least one batch accuracy")
    return float(c.mean())


def minimum_accuracy(curves: list[list[float]], learned_at: list[int]) -> float:
    """Mean over experiences of the lowest accuracy recorded after the point they were learned.

    ``curves[j][s]`` is the accuracy on experience ``j`` at evaluation point ``s``;
    ``learned_at[j]`` is the first evaluation point at which ``j`` had been trained on.
    """
    if len(curves) != len(learned_at) or not curves:
        raise ValueError("curves and learned_at must be non-empty and of equal length")
    mins = [min(c[s:]) for c, s in zip(curves, learned_at) if s < len(c)]
    if not mins:
        raise ValueError("no experience was evaluated after it was learned")
    return sum(mins) / len(mins)


def compatibility_criterion(M) -> torch.Tensor:
    """Bool ``(T, T)``: entry ``[i, j]`` (``i > j``) is true when ``M[i, j] > M[j, j]``."""
    M = _square(M)
    ok = M > M.diagonal().unsqueeze(0)
    return torch.tril(ok, diagonal=-1)


def compatibility_ac(M) -> float:
    M = _square(M)
    T = M.shape[0]
    if T < 2:
        return 1.0
    return float(compatibility_criterion(M).sum()) * 2.0 / (T * (T - 1))


def compatibility_am(M) -> float:
    M = _square(M)
    T = M.shape[0]
    return float(torch.tril(M).sum()) * 2.0 / (T * (T + 1))


def summarize(R, baseline=None) -> dict[str, float]:
    out = {"avg_acc": average_accuracy(R), "forgetting": forgetting(R), "bwt": backward_transfer(R)}
    if baseline is not None:
        out["fwt"] = forward_transfer(R, baseline)
    return out
