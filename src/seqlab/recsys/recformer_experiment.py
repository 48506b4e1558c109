"""Experiment cell ``recsys.recformer_pretraining``: does Recformer's learning framework help?

"Text Is All You Need: Learning Language Representations for Sequential Recommendation" (arXiv
2305.13731) trains its text-only recommender in three parts: a bidirectional encoder read at a leading
``[CLS]``, pre-training with masked language modelling plus the item-item contrastive loss, and
two-stage fine-tuning against an item feature table encoded by the model. The cell compares, on the
cold-item split of the claim ``recformer_cold_start`` (a seeded ``cold_fraction`` of the items removed
from every training history), at the same number of optimiser steps ``steps``:

- ``current``: the earlier Recformer (causal, summary token last, in-batch contrastive loss only);
- ``paper``: bidirectional, ``steps / 3`` pre-training steps (``L_IIC + 0.1 L_MLM``), then two-stage
  fine-tuning with ``steps / 3`` steps per stage, the table re-encoded every ``refresh_every`` steps;
- ``no_pretrain``: the same encoder and two-stage fine-tuning without pre-training, ``steps / 2`` steps
  per stage (the paper's ablation "w/o pre-training", at equal steps);
- ``bidirectional`` (only when ``params["bidirectional_arm"]``): the paper's encoder trained like
  ``current`` (in-batch loss only, ``steps``), separating the encoder from the learning framework;

plus popularity and, on the cold users, a uniformly random ranking of the unseen items. Each model's
Recall/NDCG @10/@20 on all users, on users whose test item is cold, and on the others (``warm``).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.recsys.base import user_ranks
from seqlab.recsys.data import cold_item_split
from seqlab.recsys.experiments import _timed_fit, build, group_metrics, load_split

RECFORMER_PRETRAINING_DEFAULTS = {
    "cold_fraction": 0.2,
    "steps": 600,
    "refresh_every": 50,
    "users": None,
    "bidirectional_arm": False,
}


def arms(steps: int, refresh_every: int) -> dict[str, dict]:
    """Each Recformer arm's settings at ``steps`` optimiser steps in all (module docstring)."""
    if not isinstance(steps, int) or steps < 6:
        raise ValueError(f"steps must be an int >= 6 (split three ways), got {steps!r}")
    third, half = steps // 3, steps // 2
    return {
        "current": {"max_steps": steps, "epochs": steps},
        "paper": {
            "bidirectional": True,
            "pretrain_steps": steps - 2 * third,
            "finetune": "two_stage",
            "stage1_steps": third,
            "stage2_steps": third,
            "refresh_every": refresh_every,
        },
        "no_pretrain": {
            "bidirectional": True,
            "finetune": "two_stage",
            "stage1_steps": half,
            "stage2_steps": steps - half,
            "refresh_every": refresh_every,
        },
        "bidirectional": {"bidirectional": True, "max_steps": steps, "epochs": steps},
    }


@experiment("recsys.recformer_pretraining")
def recformer_pretraining(params: dict, seed: int) -> dict:
    """The Recformer arms and popularity on one seed's cold-item split (module docstring)."""
    p = {**RECFORMER_PRETRAINING_DEFAULTS, **params}
    split = load_split("ml-100k", p["users"])
    split, cold = cold_item_split(split, float(p["cold_fraction"]), seed)
    is_cold = cold[split.test]
    groups = {"all": torch.ones(len(is_cold), dtype=torch.bool), "cold": is_cold, "warm": ~is_cold}
    out = {f"groups.{g}": float(m.sum()) for g, m in groups.items()}
    seen = torch.tensor([float(torch.unique(h).numel()) for h in split.history()])
    for k in (10, 20):  # a uniformly random ranking of the unseen items
        out[f"random.cold.recall@{k}"] = float((k / (split.num_items - seen[is_cold])).clamp(max=1).mean())
    pop = build("popularity")
    out["popularity.cpu_seconds"] = _timed_fit(pop, split)
    out.update(group_metrics("popularity", user_ranks(pop, split), groups))
    todo = arms(int(p["steps"]), int(p["refresh_every"]))
    if not p["bidirectional_arm"]:
        del todo["bidirectional"]
    for name, cfg in todo.items():
        model = build("recformer", seed, **cfg)
        out[f"{name}.cpu_seconds"] = _timed_fit(model, split)
        out[f"{name}.train_seconds"] = float(model.train_seconds)
        out.update(group_metrics(name, user_ranks(model, split), groups))
        if model.finetune_log:
            out[f"{name}.best_valid_recall@20"] = max(e["valid_recall@20"] for e in model.finetune_log)
    return out
