"""RECALL rehearsal-free ("RECALL: Rehearsal-free Continual Learning for Object Classification",
Knauer et al.): a new head per task; before training a new task the previous network *recalls* the
logits of the old heads on the new data, and training regresses the old heads to them with a
Mahalanobis loss that divides by each old unit's logit variance (measured on that unit's own task)::

    L = CE_new(z_new, y) + mean_{u in old units} (z_u - z_u^recalled)^2 / (sigma_u^2 + eps)

At test time the heads are concatenated (class-IL) or the task's head is read (task-IL).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from seqlab.continual.strategy import Strategy, masked_logits
from seqlab.registry import Paper, register

RECALL = "RECALL: Rehearsal-free Continual Learning for Object Classification"


@register(
    "strategy",
    "recall",
    implements=Paper(RECALL, "2209.14774"),
    used_by=[RECALL],
    scenarios=("task", "class"),
    family="regularization",
)
class Recall(Strategy):
    """New head per task; old heads regressed to recalled logits with a variance-scaled loss."""

    name = "recall"
    unsupported = {"domain": "RECALL adds a new head per task, but domain-IL has one shared head"}

    def __init__(self, seed: int = 0, lam: float = 1.0, eps: float = 1e-2, **kw):
        super().__init__(seed, **kw)
        self.lam, self.eps = lam, eps
        self.teacher = None
        self.var: torch.Tensor | None = None
        self.current = None

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        self.var = torch.ones(stream.n_outputs)

    def before_experience(self, model, exp):
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False) if exp.index > 0 else None
        self.current = torch.zeros(self.stream.n_outputs, dtype=torch.bool)
        self.current[list(exp.units)] = True
        self.old = torch.zeros_like(self.current)
        for e in self.stream.experiences[: exp.index]:
            self.old[list(e.units)] = True

    def loss(self, model, batch):
        logits = model(batch["inputs"])
        return F.cross_entropy(
            masked_logits(logits, self.current.expand_as(batch["active"])), batch["targets"]
        ), logits

    def extra_loss(self, model, batch, outputs):
        if self.teacher is None:
            return None
        with torch.no_grad():
            recalled = self.teacher(batch["inputs"])
        d = (outputs - recalled)[:, self.old] ** 2 / (self.var[self.old] + self.eps)
        return self.lam * d.mean()

    def after_experience(self, model, exp):
        with torch.no_grad():
            z = model(exp.x_train)
        units = list(exp.units)
        self.var[units] = z[:, units].var(0)

    def state(self):
        return {"var": self.var}

    def load_state(self, model, state):
        self.var = state["var"].clone()
