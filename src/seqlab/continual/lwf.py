"""Learning without Forgetting (LwF; Li & Hoiem, arXiv 1606.09282), as compared in "Three scenarios for
continual learning" (arXiv 1904.07734): before experience ``i`` the model is copied as a teacher and
the current inputs are distilled on the units of every earlier task::

    L = CE_i(theta) + alpha * mean_{k<i} T^2 KL( softmax(z_old_k / T) || softmax(z_k / T) ),  T = 2

where ``z_k`` are the logits restricted to task ``k``'s units (task-IL), to all units (domain-IL) or to
the classes seen before ``i`` (class-IL).
"""

from __future__ import annotations

import copy

import torch

from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import Strategy, distillation
from seqlab.registry import Paper, register


def old_masks(stream, n_seen: int, n: int) -> list[torch.Tensor]:
    """Active-unit masks of the knowledge to preserve, one per old task (task-IL) or one in total."""
    if n_seen < 2:
        return []
    if stream.scenario == "task":
        return [stream.active(torch.full((n,), k, dtype=torch.long), n_seen) for k in range(n_seen - 1)]
    return [stream.active(torch.zeros(n, dtype=torch.long), n_seen - 1)]


def frozen_teacher(model, exp):
    """A frozen copy of ``model`` before every experience but the first (``None`` before the first)."""
    return copy.deepcopy(model).eval().requires_grad_(False) if exp.index > 0 else None


def teacher_distillation(teacher, stream, n_seen: int, batch: dict, outputs: torch.Tensor, T: float):
    """Mean distillation towards ``teacher``'s outputs over the old tasks' units; ``None`` if none."""
    masks = old_masks(stream, n_seen, len(batch["targets"]))
    if teacher is None or not masks:
        return None
    with torch.no_grad():
        z_old = teacher(batch["inputs"])
    return sum(distillation(outputs, z_old, m, T) for m in masks) / len(masks)


@register(
    "strategy",
    "lwf",
    implements=Paper("Learning without Forgetting", "1606.09282"),
    used_by=[THREE],
    scenarios=("task", "domain", "class"),
    family="distillation",
)
class LwF(Strategy):
    """Learning without forgetting: distil the previous model's outputs on current data."""

    name = "lwf"

    def __init__(self, seed: int = 0, temperature: float = 2.0, alpha: float = 1.0, **kw):
        super().__init__(seed, **kw)
        self.T, self.alpha = temperature, alpha
        self.teacher = None

    def before_experience(self, model, exp):
        self.teacher = frozen_teacher(model, exp)

    def extra_loss(self, model, batch, outputs):
        kd = teacher_distillation(self.teacher, self.stream, self.n_seen, batch, outputs, self.T)
        return None if kd is None else self.alpha * kd
