"""Center-loss regularization ("Center Loss Regularization for Continual Learning", Olpadkar & Gavas,
arXiv 2110.11314),
alone and with replay.

Each output unit ``y`` keeps a feature centre ``c_y``, moved towards its examples while the unit is
being learned (Wen et al.'s update ``c_y <- c_y - alpha (c_y - mean_{i: y_i = y} f(x_i))``) and frozen
once the experience that introduced it ends. The loss pulls features to their (possibly frozen) centre::

    L = CE + lambda * (1/2n) sum_i || f(x_i) - c_{y_i} ||^2

so later tasks that reuse a unit (domain-IL) are mapped onto the representation the head already reads.
"""

from __future__ import annotations

import torch

from seqlab.continual.replay import Replay
from seqlab.continual.strategy import Strategy, masked_logits
from seqlab.registry import Paper, register

CENTER = "Center Loss Regularization for Continual Learning"


class CenterLoss(Strategy):
    """Centre-loss regularization on the penultimate features; centres frozen after their experience."""

    name = "center_loss"

    def __init__(self, seed: int = 0, lam: float = 0.01, alpha: float = 0.5, **kw):
        super().__init__(seed, **kw)
        self.lam, self.alpha = lam, alpha
        self.centers: torch.Tensor | None = None
        self.frozen: torch.Tensor | None = None
        self._h = None

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        self.frozen = torch.zeros(stream.n_outputs, dtype=torch.bool)

    def loss(self, model, batch):
        h = model.features(batch["inputs"])
        logits = model.head(h)
        if self.centers is None:
            self.centers = torch.zeros(self.stream.n_outputs, h.shape[1])
        self._h = h
        return torch.nn.functional.cross_entropy(
            masked_logits(logits, batch["active"]), batch["targets"]
        ), logits

    def extra_loss(self, model, batch, outputs):
        c = self.centers[batch["targets"]]
        return self.lam * 0.5 * ((self._h - c) ** 2).sum(1).mean()

    def after_step(self, model, step, metrics):
        super().after_step(model, step, metrics)
        h, y = self._h.detach(), self._last_targets
        for c in torch.unique(y):
            if not self.frozen[c]:
                self.centers[c] -= self.alpha * (self.centers[c] - h[y == c].mean(0))

    def transform_batch(self, model, batch):
        batch = super().transform_batch(model, batch)
        self._last_targets = batch["targets"]
        return batch

    def after_experience(self, model, exp):
        super().after_experience(model, exp)
        self.frozen[list(exp.units)] = True

    def state(self):
        out = {**super().state(), "frozen": self.frozen}
        return out if self.centers is None else {**out, "centers": self.centers}

    def load_state(self, model, state):
        super().load_state(model, state)
        self.frozen = state["frozen"].clone()
        self.centers = state["centers"].clone() if "centers" in state else None


register(
    "strategy",
    "center_loss",
    implements=Paper(CENTER, "2110.11314"),
    used_by=[CENTER],
    scenarios=("task", "domain", "class"),
    family="regularization",
)(CenterLoss)


@register(
    "strategy",
    "center_loss_replay",
    implements=Paper(CENTER, "2110.11314"),
    used_by=[CENTER],
    scenarios=("task", "domain", "class"),
    family="regularization+replay",
)
class CenterLossReplay(CenterLoss, Replay):
    """Centre-loss regularization combined with class-balanced experience replay."""

    name = "center_loss_replay"
