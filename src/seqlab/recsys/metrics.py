"""Full-ranking metrics for next-item prediction with one held-out target per user.

With ``r`` the 0-based rank of the target among the ranked items (``r = inf`` when it is not in a
returned top-k list)::

    Recall@K = mean_u 1[r_u < K]
    NDCG@K   = mean_u 1[r_u < K] / log2(r_u + 2)      (one relevant item: the ideal DCG is 1)

Ranking from scores (:func:`ranks_from_scores`) is a stable sort by descending score: ties are broken
by the lower item id, the order ``torch.sort(-scores, stable=True)`` gives. Items a user has already
seen can be excluded (their score set to ``-inf``); the target is never excluded.
"""

from __future__ import annotations

import math

import torch

KS = (10, 20)


def _check_targets(targets: torch.Tensor, num_items: int) -> torch.Tensor:
    targets = torch.as_tensor(targets, dtype=torch.long)
    if targets.dim() != 1:
        raise ValueError(f"targets must be one item id per user, shape (users,), got {tuple(targets.shape)}")
    if targets.numel() and (targets.min() < 1 or targets.max() > num_items):
        raise ValueError(
            f"target item ids must lie in the catalogue 1..{num_items}, got "
            f"{targets.min().item()}..{targets.max().item()}"
        )
    return targets


def mask_seen(scores: torch.Tensor, histories, keep: torch.Tensor | None = None) -> torch.Tensor:
    """``scores`` (users, num_items + 1) with padding column 0 and every seen item set to ``-inf``
    (except ``keep[u]``, the target, so a repeated target stays rankable)."""
    out = scores.clone().float()
    out[:, 0] = float("-inf")
    for u, h in enumerate(histories):
        out[u, torch.as_tensor(h, dtype=torch.long)] = float("-inf")
    if keep is not None:
        rows = torch.arange(out.shape[0])
        out[rows, keep] = scores[rows, keep].float()
    return out


def ranks_from_scores(scores: torch.Tensor, targets) -> torch.Tensor:
    """0-based rank of each target under a stable descending sort of its row: ``#{j: s_j > s_t} +
    #{j < t: s_j = s_t}``. ``scores`` is (users, num_items + 1) with column 0 the padding id."""
    if scores.dim() != 2:
        raise ValueError(f"scores must be (users, num_items + 1), got {tuple(scores.shape)}")
    targets = _check_targets(targets, scores.shape[1] - 1)
    if targets.shape[0] != scores.shape[0]:
        raise ValueError(f"{scores.shape[0]} score rows for {targets.shape[0]} targets")
    if torch.isnan(scores).any():
        raise ValueError("scores hold NaN: cannot rank")
    s_t = scores.gather(1, targets[:, None])
    ids = torch.arange(scores.shape[1])[None]
    ahead = (scores > s_t) | ((scores == s_t) & (ids < targets[:, None]))
    return ahead.sum(1).double()


def ranks_from_lists(topk: torch.Tensor, targets, num_items: int) -> torch.Tensor:
    """Rank of each target in its ranked list ``topk`` (users, k), ``inf`` when absent. Item ids in a
    list must lie in ``1..num_items`` (a generated ID outside the catalogue is an error, never a miss)."""
    topk = torch.as_tensor(topk, dtype=torch.long)
    targets = _check_targets(targets, num_items)
    if topk.dim() != 2 or topk.shape[0] != targets.shape[0]:
        raise ValueError(f"topk must be (users={targets.shape[0]}, k), got {tuple(topk.shape)}")
    if topk.numel() and (topk.min() < 1 or topk.max() > num_items):
        raise ValueError(
            f"ranked item ids must lie in the catalogue 1..{num_items}, got "
            f"{topk.min().item()}..{topk.max().item()}"
        )
    hit = topk == targets[:, None]
    first = torch.where(
        hit.any(1), hit.float().argmax(1).double(), torch.tensor(math.inf, dtype=torch.double)
    )
    return first


def recall_at(ranks: torch.Tensor, k: int) -> float:
    _check_k(k)
    return float((ranks < k).double().mean()) if ranks.numel() else math.nan


def ndcg_at(ranks: torch.Tensor, k: int) -> float:
    _check_k(k)
    if not ranks.numel():
        return math.nan
    gain = torch.where(ranks < k, 1.0 / torch.log2(ranks.clamp(max=1e9) + 2.0), torch.zeros_like(ranks))
    return float(gain.mean())


def _check_k(k) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")


def summarize(ranks: torch.Tensor, ks=KS) -> dict[str, float]:
    """``{"recall@10": ..., "ndcg@10": ..., "recall@20": ..., "ndcg@20": ...}``."""
    out = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at(ranks, k)
        out[f"ndcg@{k}"] = ndcg_at(ranks, k)
    return out
