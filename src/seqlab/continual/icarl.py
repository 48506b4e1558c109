"""iCaRL-style nearest-mean-of-exemplars ("iCaRL: Incremental Classifier and Representation Learning",
Rebuffi et al., arXiv 1611.07725), in the form compared in "Three scenarios for continual learning"
(arXiv 1904.07734): replay of a class-balanced exemplar memory chosen by herding, distillation of the
previous model's outputs on old classes, and classification by the nearest exemplar mean::

    mu_y = mean_{p in P_y} f(p) / ||f(p)||,     y* = argmin_y || f(x)/||f(x)|| - mu_y ||

Herding picks exemplars whose running mean tracks the class mean (:func:`seqlab.continual.buffers.herding`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.continual.buffers import herding
from seqlab.continual.lwf import frozen_teacher, teacher_distillation
from seqlab.continual.replay import Replay
from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import NEG
from seqlab.registry import Paper, register


@register(
    "strategy",
    "icarl",
    implements=Paper("iCaRL: Incremental Classifier and Representation Learning", "1611.07725"),
    used_by=[THREE],
    scenarios=("task", "class"),
    family="replay",
)
class ICaRL(Replay):
    """Herding exemplars + distillation + nearest-mean-of-exemplars classification."""

    name = "icarl"
    unsupported = {
        "domain": "nearest-mean-of-exemplars needs one output unit per class; in domain-IL a "
        "unit pools different classes of different tasks, so its mean is no prototype"
    }

    def __init__(self, seed: int = 0, budget: int = 200, temperature: float = 2.0, **kw):
        super().__init__(seed, budget=budget, **kw)
        self.T = temperature
        self.teacher = None
        self.means: torch.Tensor | None = None

    def before_experience(self, model, exp):
        self.teacher = frozen_teacher(model, exp)

    def extra_loss(self, model, batch, outputs):
        return teacher_distillation(self.teacher, self.stream, self.n_seen, batch, outputs, self.T)

    def store(self, model, exp):
        model.eval()
        with torch.no_grad():
            feats = model.features(exp.x_train)
        model.train()
        n_classes = (
            len(torch.unique(torch.cat([self.buffer.y, exp.y_train]))) if len(self.buffer) else len(exp.units)
        )
        m = max(1, self.budget // n_classes)
        order = []
        for c in torch.unique(exp.y_train):
            idx = torch.nonzero(exp.y_train == c).flatten()
            order.append(idx[herding(feats[idx], m)])
        self.buffer.add(exp.x_train, exp.y_train, exp.t_train, order=torch.cat(order))

    def after_experience(self, model, exp):
        super().after_experience(model, exp)
        self.update_means(model)

    def update_means(self, model):
        model.eval()
        with torch.no_grad():
            f = F.normalize(model.features(self.buffer.x), dim=1)
        model.train()
        means = torch.zeros(self.stream.n_outputs, f.shape[1])
        for c in torch.unique(self.buffer.y):
            means[c] = F.normalize(f[self.buffer.y == c].mean(0), dim=0)
        self.means = means

    def predict(self, model, x, task_ids):
        if self.means is None:
            return model(x)
        f = F.normalize(model.features(x), dim=1)
        scores = -torch.cdist(f, self.means)
        empty = self.means.abs().sum(1) == 0
        return scores.masked_fill(empty.unsqueeze(0), NEG)

    def state(self):
        return {**super().state(), **({"means": self.means} if self.means is not None else {})}

    def load_state(self, model, state):
        super().load_state(model, state)
        self.means = state.get("means")
