"""Stationary representations with a fixed d-simplex classifier, and CL2R.

d-Simplex ("Stationary Representations: Optimally Approximating Compatibility and Implications for
Improved Model Replacements", Biondi et al.): the head is the fixed matrix of the ``K`` vertices of a
regular simplex in ``R^(K-1)`` (``w_i . w_j = -1/(K-1)``), never trained, so class directions cannot
drift and features learned at different times stay comparable: ``logits = f(x) W^T``.

CL2R ("CL2R: Compatible Lifelong Learning Representations", Biondi et al.): the simplex head (global
stationarity) plus replay and feature distillation on the memory towards the previous model (local
stationarity)::

    L = CE(B u B_mem) + lambda * mean_{x in B_mem} (1 - cos(f(x), f_old(x)))

Compatibility is measured with :func:`seqlab.continual.metrics.compatibility_ac` / ``_am``.
"""

from __future__ import annotations

import copy

import torch.nn.functional as F

from seqlab.continual.backbones import MLP, FixedSimplexHead
from seqlab.continual.replay import Replay
from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register

STATIONARY = (
    "Stationary Representations: Optimally Approximating Compatibility and Implications for "
    "Improved Model Replacements"
)
CL2R = "CL2R: Compatible Lifelong Learning Representations"


def simplex_mlp(stream, hidden: int) -> MLP:
    k = stream.n_outputs
    model = MLP(stream.input_dim, k, hidden=hidden, d_feat=k - 1)
    model.head = FixedSimplexHead(k)
    return model


@register(
    "strategy",
    "simplex",
    implements=Paper(STATIONARY, venue="CVPR 2024"),
    used_by=[STATIONARY],
    scenarios=("task", "domain", "class"),
    family="compatible",
)
class Simplex(Strategy):
    """Fine-tuning with a fixed (never trained) d-simplex classifier."""

    name = "simplex"
    vector_only = True

    def build_model(self):
        return simplex_mlp(self.stream, self.cfg.hidden)


@register(
    "strategy",
    "cl2r",
    implements=Paper(CL2R, "2211.09032"),
    used_by=[CL2R, STATIONARY],
    scenarios=("task", "domain", "class"),
    family="compatible",
)
class CL2RStrategy(Replay):
    """Fixed simplex head + replay + feature distillation on the memory (CL2R)."""

    name = "cl2r"
    vector_only = True

    def __init__(self, seed: int = 0, lam: float = 1.0, **kw):
        super().__init__(seed, **kw)
        self.lam = lam
        self.teacher = None

    def build_model(self):
        return simplex_mlp(self.stream, self.cfg.hidden)

    def before_experience(self, model, exp):
        self.teacher = copy.deepcopy(model).eval().requires_grad_(False) if exp.index > 0 else None

    def transform_batch(self, model, batch):
        self._n_new = len(batch["targets"])
        return super().transform_batch(model, batch)

    def extra_loss(self, model, batch, outputs):
        if self.teacher is None or len(batch["targets"]) <= self._n_new:
            return None
        x_mem = batch["inputs"][self._n_new :]
        f_old = self.teacher.features(x_mem).detach()
        return self.lam * (1 - F.cosine_similarity(model.features(x_mem), f_old, dim=1)).mean()
