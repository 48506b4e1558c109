"""Nearest-mean classifier on frozen pretrained features ("A Simple Baseline that Questions the Use of
Pretrained-Models in Continual Learning", Janson et al., arXiv 2210.04428)::

    mu_y = (1/n_y) sum_{i: y_i = y} phi(x_i),     y* = argmin_y || phi(x) - mu_y ||_2

``phi`` is frozen (pretrained inside the run on scikit-learn digits, disjoint from the stream), the
means are running sums, so the method is single-headed, exemplar-free and needs no task boundaries.
"""

from __future__ import annotations

import torch

from seqlab.continual.backbones import FrozenEncoder, pretrained_encoder
from seqlab.continual.strategy import NEG, Strategy
from seqlab.registry import Paper, register

NMC_PAPER = "A Simple Baseline that Questions the Use of Pretrained-Models in Continual Learning"


class FrozenFeatureStrategy(Strategy):
    """Base for training-free methods on a frozen pretrained encoder."""

    trains = False
    vector_only = True

    def build_model(self):
        return FrozenEncoder(
            pretrained_encoder(self.stream.shape, self.seed, hidden=self.cfg.hidden), self.stream.n_outputs
        )


@register(
    "strategy",
    "nmc",
    implements=Paper(NMC_PAPER, "2210.04428"),
    used_by=[NMC_PAPER],
    scenarios=("task", "domain", "class"),
    family="frozen-features",
)
class NMC(FrozenFeatureStrategy):
    """Nearest class mean of frozen pretrained features."""

    name = "nmc"

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        self.sums = self.counts = None

    def after_experience(self, model, exp):
        with torch.no_grad():
            f = model.features(exp.x_train)
        if self.sums is None:
            self.sums = torch.zeros(self.stream.n_outputs, f.shape[1])
            self.counts = torch.zeros(self.stream.n_outputs)
        self.sums.index_add_(0, exp.y_train, f)
        self.counts.index_add_(0, exp.y_train, torch.ones(len(exp.y_train)))

    def predict(self, model, x, task_ids):
        if self.sums is None:
            return torch.zeros(len(x), self.stream.n_outputs)
        means = self.sums / self.counts.clamp(min=1).unsqueeze(1)
        scores = -torch.cdist(model.features(x), means)
        return scores.masked_fill((self.counts == 0).unsqueeze(0), NEG)

    def state(self):
        return {} if self.sums is None else {"sums": self.sums, "counts": self.counts}

    def load_state(self, model, state):
        self.sums, self.counts = state.get("sums"), state.get("counts")
