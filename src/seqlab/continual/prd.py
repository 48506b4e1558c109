"""Prototype-sample relation distillation (PRD; "Prototype-Sample Relation Distillation: Towards
Replay-Free Continual Learning", Asadi et al., ICML 2023), replay-free.

Features ``z = f(x)/||f(x)||`` are trained with a supervised contrastive loss on two views; each class
has a learnable prototype ``p_c``; new prototypes learn by cross-entropy over the *current* classes
only; old knowledge is kept by distilling the relation of samples to the old prototypes::

    L = SupCon(z, y) + CE_current(z p^T / tau)
        + beta * KL( softmax(z_old p_old^T / tau) || softmax(z p^T / tau) )

where the relation distribution runs over the classes of earlier experiences and the teacher is the
model (encoder and prototypes) before the current experience. Prediction: nearest prototype (cosine).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.continual.backbones import MLP
from seqlab.continual.lwf import old_masks
from seqlab.continual.strategy import Strategy, distillation, masked_logits
from seqlab.registry import Paper, register

PRD = "Prototype-Sample Relation Distillation: Towards Replay-Free Continual Learning"


class PrototypeNet(nn.Module):
    """MLP encoder with a normalized projection and one learnable prototype per output unit."""

    def __init__(self, d_in: int, n_outputs: int, hidden: int, d_proj: int = 128, tau: float = 0.1):
        super().__init__()
        self.encoder = MLP(d_in, n_outputs, hidden=hidden, d_feat=d_proj)
        self.protos = nn.Parameter(torch.randn(n_outputs, d_proj) * 0.1)
        self.tau = tau

    def features(self, x):
        return F.normalize(self.encoder.features(x), dim=1)

    def forward(self, x):
        return self.features(x) @ F.normalize(self.protos, dim=1).T / self.tau


def supcon(z: torch.Tensor, y: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.) over L2-normalized ``z``: mean -log p(positive)."""
    n = len(z)
    sim = z @ z.T / tau
    self_mask = torch.eye(n, dtype=torch.bool)
    log_p = sim.masked_fill(self_mask, -1e9).log_softmax(dim=1)
    pos = (y.unsqueeze(0) == y.unsqueeze(1)) & ~self_mask
    has = pos.any(1)
    return -((log_p * pos).sum(1)[has] / pos.sum(1)[has]).mean()


@register(
    "strategy", "prd", implements=Paper(PRD, "2303.14771"), used_by=[PRD], scenarios=("task", "class"),
    family="distillation",
)
class PRDStrategy(Strategy):
    """SupCon features + per-class prototypes + prototype-sample relation distillation (no replay)."""

    name = "prd"
    vector_only = True
    unsupported = {"domain": "prototypes stand for classes; domain-IL maps different classes onto one unit"}

    def __init__(self, seed: int = 0, beta: float = 1.0, noise: float = 0.1, **kw):
        super().__init__(seed, **kw)
        self.beta, self.noise = beta, noise
        self.teacher = None
        self.current: torch.Tensor | None = None

    def build_model(self):
        return PrototypeNet(self.stream.input_dim, self.stream.n_outputs, self.cfg.hidden)

    def before_experience(self, model, exp):
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False) if exp.index > 0 else None
        self.current = torch.zeros(self.stream.n_outputs, dtype=torch.bool)
        self.current[list(exp.units)] = True
        self._step = exp.index * 1_000_000

    def after_step(self, model, step, metrics):
        self._step += 1

    def loss(self, model, batch):
        x, y = batch["inputs"], batch["targets"]
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self._step)
        x2 = x + self.noise * torch.randn(x.shape, generator=g)
        z1, z2 = model.features(x), model.features(x2)
        logits = z1 @ F.normalize(model.protos, dim=1).T / model.tau
        ce = F.cross_entropy(masked_logits(logits, batch["active"] & self.current), y)
        return supcon(torch.cat([z1, z2]), torch.cat([y, y])) + ce, logits

    def extra_loss(self, model, batch, outputs):
        masks = old_masks(self.stream, self.n_seen, len(batch["targets"]))
        if self.teacher is None or not masks:
            return None
        with torch.no_grad():
            rel_old = self.teacher(batch["inputs"])
        return self.beta * sum(distillation(outputs, rel_old, m, 1.0) for m in masks) / len(masks)
