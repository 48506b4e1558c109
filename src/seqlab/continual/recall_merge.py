"""Representation-similarity-weighted hierarchical model merging, after "RECALL: REpresentation-aligned
Catastrophic-forgetting ALLeviation via Hierarchical Model Merging".

Each experience fine-tunes a copy of the current (merged) model; the result is merged back layer by
layer. Layer ``l``'s weight on the old model grows with how similar the two models' representations
at that layer are on the new experience's data (linear CKA, no old data needed) and with the number
of experiences the old model already summarizes::

    s_l = CKA(h_l^old(X), h_l^new(X)),    beta_l = s_l * i / (i + 1),
    theta_l = beta_l * theta_l^old + (1 - beta_l) * theta_l^new

so shallow, shared layers (high ``s_l``) are averaged while layers whose representation had to change
keep the new solution. This is seqlab's reading of the method for classifiers, not its LLM recipe.
"""

from __future__ import annotations

import copy

import torch

from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register

RECALL_MERGE = (
    "RECALL: REpresentation-aligned Catastrophic-forgetting ALLeviation via Hierarchical Model Merging"
)


def linear_cka(a: torch.Tensor, b: torch.Tensor) -> float:
    """Linear centred kernel alignment of two representations ``(n, d1)``, ``(n, d2)`` of the same inputs."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    num = (b.T @ a).norm() ** 2
    den = (a.T @ a).norm() * (b.T @ b).norm()
    return float(num / den) if den > 0 else 0.0


def layer_outputs(model, x: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every Linear layer of an MLP backbone (hidden layers, then the head)."""
    outs, h = [], x
    for layer in model.body:
        h = layer(h)
        if isinstance(layer, torch.nn.Linear):
            outs.append(h)
    outs.append(model.head(h))
    return outs


def linear_layers(model) -> list[torch.nn.Linear]:
    return [m for m in model.body if isinstance(m, torch.nn.Linear)] + [model.head]


@register(
    "strategy",
    "recall_merge",
    implements=Paper(RECALL_MERGE, "2510.20479"),
    used_by=[RECALL_MERGE],
    scenarios=("task", "domain", "class"),
    family="merging",
)
class RecallMerge(Strategy):
    """Fine-tune, then merge with the previous model layer-wise by representation similarity."""

    name = "recall_merge"
    vector_only = True

    def __init__(self, seed: int = 0, probe: int = 256, **kw):
        super().__init__(seed, **kw)
        self.probe = probe
        self.old = None
        self.betas: list[float] = []

    def before_experience(self, model, exp):
        self.old = copy.deepcopy(model).eval().requires_grad_(False) if exp.index > 0 else None

    @torch.no_grad()
    def after_experience(self, model, exp):
        if self.old is None:
            return
        x = exp.x_train[: self.probe]
        sims = [linear_cka(a, b) for a, b in zip(layer_outputs(self.old, x), layer_outputs(model, x))]
        i = exp.index
        self.betas = [s * i / (i + 1) for s in sims]
        for beta, lo, ln in zip(self.betas, linear_layers(self.old), linear_layers(model)):
            ln.weight.copy_(beta * lo.weight + (1 - beta) * ln.weight)
            ln.bias.copy_(beta * lo.bias + (1 - beta) * ln.bias)
