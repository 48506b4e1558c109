"""The recommender interface and the one evaluation every model goes through.

A recommender is fitted on a :class:`~seqlab.recsys.data.Split` (``fit(split)``, which records
``train_seconds``) and answers ``recommend(histories, k)``: a ranked ``(users, k)`` LongTensor of
item ids in ``1..num_items``. Score-based models (:class:`ScoringRecommender`) also give
``scores(histories)`` over every item, and are evaluated by the exact full-ranking rank of the
target; generative models are evaluated on their returned lists (a target outside the list is a
miss). Seen items are excluded in both cases.
"""

from __future__ import annotations

import time

import torch

from seqlab.recsys.data import Split
from seqlab.recsys.metrics import KS, mask_seen, ranks_from_lists, ranks_from_scores, summarize


def check_histories(histories, num_items: int) -> list[torch.Tensor]:
    """Each history a non-empty 1-D LongTensor of item ids in ``1..num_items``."""
    out = []
    for u, h in enumerate(histories):
        h = torch.as_tensor(h, dtype=torch.long)
        if h.dim() != 1 or h.numel() == 0:
            raise ValueError(
                f"user {u} has no history (got shape {tuple(h.shape)}): a next-item "
                f"recommender needs at least one past item"
            )
        if h.min() < 1 or h.max() > num_items:
            raise ValueError(
                f"user {u}'s history holds item ids outside the catalogue 1..{num_items}: "
                f"{h.min().item()}..{h.max().item()}"
            )
        out.append(h)
    if not out:
        raise ValueError("no users to recommend for")
    return out


def check_times(histories: list[torch.Tensor], times, who: str) -> list[torch.Tensor]:
    """One finite float64 timestamp tensor per history, each of its history's shape."""
    if times is None or len(times) != len(histories):
        raise ValueError(
            f"{who} needs the timestamps of every history (times=, one per user); got "
            f"{'none' if times is None else len(times)} for {len(histories)} users"
        )
    out = []
    for h, t in zip(histories, times, strict=True):
        t = torch.as_tensor(t, dtype=torch.float64)
        if t.shape != h.shape:
            raise ValueError(f"a history of {h.numel()} items needs {h.numel()} timestamps, got {t.numel()}")
        if not torch.isfinite(t).all():
            raise ValueError("timestamps must be finite (got NaN or inf)")
        out.append(t)
    return out


class Recommender:
    """Base class: ``fit(split)`` then ``recommend(histories, k)``."""

    num_items: int | None = None
    train_seconds: float = 0.0

    def fit(self, split: Split):
        t0 = time.perf_counter()
        self.num_items = split.num_items
        self._fit(split)
        self.train_seconds = time.perf_counter() - t0
        return self

    def _fit(self, split: Split) -> None:
        raise NotImplementedError

    def _fitted(self) -> int:
        if self.num_items is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(split) first")
        return self.num_items

    def recommend(self, histories, k: int, exclude_seen: bool = True) -> torch.Tensor:
        raise NotImplementedError


class ScoringRecommender(Recommender):
    """A recommender that scores every item: ``scores(histories) -> (users, num_items + 1)``."""

    def scores(self, histories) -> torch.Tensor:
        raise NotImplementedError

    def recommend(self, histories, k: int, exclude_seen: bool = True) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
            raise ValueError(f"k must be an int in 1..{n}, got {k!r}")
        s = self.scores(histories)
        s = mask_seen(s, histories if exclude_seen else [[] for _ in histories])
        return torch.sort(-s, dim=1, stable=True).indices[:, :k]


def user_ranks(model: Recommender, split: Split, stage: str = "test", batch_size: int = 256) -> torch.Tensor:
    """The 0-based full-ranking rank of each user's ``stage`` target (``inf`` when a generative model's
    list misses it), seen items excluded. Models with ``uses_times = True`` also get the histories'
    timestamps: ``model.scores(histories, times=...)``."""
    histories, targets = split.history(stage), split.targets(stage)
    times = split.history_times(stage) if getattr(model, "uses_times", False) else None
    ranks = []
    for lo in range(0, len(histories), batch_size):
        h, t = histories[lo : lo + batch_size], targets[lo : lo + batch_size]
        if isinstance(model, ScoringRecommender):
            checked = check_histories(h, split.num_items)
            if times is None:
                s = model.scores(checked)
            else:
                s = model.scores(checked, times=times[lo : lo + batch_size])
            ranks.append(ranks_from_scores(mask_seen(s, h, t), t))
        else:
            ranks.append(ranks_from_lists(model.recommend(h, max(KS)), t, split.num_items))
    return torch.cat(ranks)


def evaluate(
    model: Recommender, split: Split, stage: str = "test", ks=KS, batch_size: int = 256
) -> dict[str, float]:
    """Recall@K and NDCG@K of ``model`` on ``split``'s ``stage`` targets, seen items excluded."""
    if not all(k <= max(KS) for k in ks) and not isinstance(model, ScoringRecommender):
        raise ValueError(f"generative models are evaluated on top-{max(KS)} lists; got ks {ks}")
    out = summarize(user_ranks(model, split, stage, batch_size), ks)
    out["train_seconds"] = float(model.train_seconds)
    return out
