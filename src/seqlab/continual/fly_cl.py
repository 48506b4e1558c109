"""Fly-CL ("Fly-CL: A Fly-Inspired Framework for Enhancing Efficient Decorrelation and Reduced Training
Time in Pre-trained Model-based Continual Representation Learning", arXiv 2510.16877).

Like the fly olfactory circuit: frozen pretrained features ``h`` (standardized) are expanded by a sparse
binary random projection (each of ``m`` expansion units sums ``s`` random inputs), a top-``k``
winner-take-all keeps the ``k`` strongest units, and classification matches the sparse code to class
prototypes by cosine similarity::

    z = WTA_k(W h),  W in {0,1}^{m x d}, s ones per row;   y* = argmax_y cos(z, sum_{i: y_i = y} z_i)

The sparse high-dimensional codes are nearly decorrelated, so class prototypes interfere little.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.continual.nmc import FrozenFeatureStrategy
from seqlab.continual.strategy import NEG
from seqlab.registry import Paper, register

FLY = (
    "Fly-CL: A Fly-Inspired Framework for Enhancing Efficient Decorrelation and Reduced Training Time "
    "in Pre-trained Model-based Continual Representation Learning"
)


def sparse_projection(d: int, m: int, s: int, generator: torch.Generator) -> torch.Tensor:
    """``(m, d)`` binary matrix with exactly ``s`` ones per row at random columns."""
    if not 1 <= s <= d:
        raise ValueError(f"connections per unit s must lie in [1, {d}], got {s}")
    cols = torch.rand(m, d, generator=generator).argsort(dim=1)[:, :s]
    W = torch.zeros(m, d)
    W.scatter_(1, cols, 1.0)
    return W


def winner_take_all(z: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of each row, zero the rest."""
    if not 1 <= k <= z.shape[1]:
        raise ValueError(f"k must lie in [1, {z.shape[1]}], got {k}")
    top = z.topk(k, dim=1)
    return torch.zeros_like(z).scatter_(1, top.indices, top.values)


@register(
    "strategy",
    "fly_cl",
    implements=Paper(FLY, "2510.16877"),
    used_by=[FLY],
    scenarios=("task", "domain", "class"),
    family="frozen-features",
)
class FlyCL(FrozenFeatureStrategy):
    """Sparse random expansion + top-k winner-take-all + prototype similarity on frozen features."""

    name = "fly_cl"

    def __init__(self, seed: int = 0, expansion: int = 4000, connections: int = 16, k: int = 200, **kw):
        super().__init__(seed, **kw)
        self.m, self.s, self.k = expansion, connections, k
        self.W = self.mu = self.sd = self.protos = None

    def code(self, model, x):
        h = (model.features(x) - self.mu) / self.sd
        return winner_take_all(h @ self.W.T, self.k)

    def after_experience(self, model, exp):
        with torch.no_grad():
            if self.W is None:  # statistics and projection fixed from the first experience on
                h = model.features(exp.x_train)
                self.mu, self.sd = h.mean(0), h.std(0) + 1e-3
                g = torch.Generator().manual_seed(self.seed)
                self.W = sparse_projection(h.shape[1], self.m, self.s, g)
                self.protos = torch.zeros(self.stream.n_outputs, self.m)
            self.protos.index_add_(0, exp.y_train, self.code(model, exp.x_train))

    def predict(self, model, x, task_ids):
        if self.protos is None:
            return torch.zeros(len(x), self.stream.n_outputs)
        sims = F.normalize(self.code(model, x), dim=1) @ F.normalize(self.protos, dim=1).T
        return sims.masked_fill((self.protos.abs().sum(1) == 0).unsqueeze(0), NEG)

    def state(self):
        if self.W is None:
            return {}
        return {"W": self.W, "mu": self.mu, "sd": self.sd, "protos": self.protos}

    def load_state(self, model, state):
        if state:
            self.W, self.mu, self.sd, self.protos = state["W"], state["mu"], state["sd"], state["protos"]
