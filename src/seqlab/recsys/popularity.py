"""Popularity: every user gets the items most often interacted with in training (the must-beat baseline).

``score(i) = #{training interactions with item i}``; ties are broken by the lower item id (the
stable ranking of :mod:`seqlab.recsys.metrics`). It implements no paper: it is the trivial
predictor every sequential recommender must beat.
"""

from __future__ import annotations

import torch

from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import Split
from seqlab.registry import register


@register("recommender", "popularity", description="most-interacted training items (trivial baseline)")
class Popularity(ScoringRecommender):
    """Item interaction counts over the training histories."""

    counts: torch.Tensor | None = None

    def _fit(self, split: Split) -> None:
        self.counts = split.train_counts().float()

    def scores(self, histories) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        return self.counts[None].expand(len(histories), -1).clone()
