"""Joint training: at experience ``i`` train on the union of experiences ``0..i`` (the upper bound).

Reference of "Three scenarios for continual learning" (arXiv 1904.07734):
``theta_i = argmin_theta sum_{j<=i} L_j(theta)``.
"""

from __future__ import annotations

import torch

from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register


@register(
    "strategy",
    "joint",
    implements=Paper(THREE, "1904.07734"),
    used_by=[THREE],
    scenarios=("task", "domain", "class"),
    family="baseline",
)
class Joint(Strategy):
    """Joint training on all data seen so far (upper bound, not a continual method)."""

    name = "joint"

    def train_data(self, exp):
        past = [self.stream.experiences[j] for j in range(exp.index)]
        xs = [e.x_train for e in past] + [exp.x_train]
        ys = [e.y_train for e in past] + [exp.y_train]
        ts = [e.t_train for e in past] + [exp.t_train]
        return torch.cat(xs), torch.cat(ys), torch.cat(ts)
