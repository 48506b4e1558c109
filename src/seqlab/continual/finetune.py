"""Fine-tuning: train on each experience in turn with nothing against forgetting (the lower bound).

Baseline of "Three scenarios for continual learning" (arXiv 1904.07734):
``theta_i = argmin_theta L_i(theta)`` started from ``theta_{i-1}``.
"""

from __future__ import annotations

from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register


@register(
    "strategy",
    "finetune",
    implements=Paper(THREE, "1904.07734"),
    used_by=[THREE],
    scenarios=("task", "domain", "class"),
    family="baseline",
)
class Finetune(Strategy):
    """Fine-tuning (no protection against forgetting); lower bound."""

    name = "finetune"
