"""Recformer's two-stage fine-tuning ("Text Is All You Need: Learning Language Representations for
Sequential Recommendation", Li et al., arXiv 2305.13731, section 2.3.2, Algorithm 1).

The model keeps no trainable item-embedding table. It keeps an *item feature matrix* ``I``: every
item's text encoded by the model itself (a unit vector per item), used as the fixed target of the
full-softmax loss (Eq. 12, :func:`~seqlab.recsys.recformer_pretrain.table_loss`); no gradient reaches
``I``.

- **Stage 1**: at the start of every epoch ``I`` is re-encoded from the item texts with the current
  model, then the model trains against it for the epoch. After each epoch the model is scored on the
  validation targets (Recall@20, full ranking against the freshly re-encoded ``I``); the best epoch's
  parameters and its ``I`` are kept.
- **Stage 2**: the model is reset to stage 1's best parameters and ``I`` is the table they encoded,
  now *frozen* for the rest of training; the model trains against it, validated after each epoch
  against the same frozen ``I``, and the best parameters are kept. Recommendation scores the user
  vector against the frozen ``I``.

At MovieLens scale an "epoch" is ``refresh_every`` optimiser steps (the full pass over every
(history, next item) pair is ~1,500 steps of 64), so ``I`` is re-encoded every ``refresh_every`` steps.
"""

from __future__ import annotations

import copy

import torch

from seqlab.recsys.metrics import mask_seen, ranks_from_scores, summarize
from seqlab.recsys.recformer_pretrain import table_loss


@torch.no_grad()
def valid_recall(model, table: torch.Tensor, histories, targets: torch.Tensor, k: int = 20) -> float:
    """Recall@k of the validation ``targets`` ranked by ``u . I / tau`` over all items, seen excluded."""
    was = model.encoder.training
    model.encoder.eval()
    ranks = []
    for lo in range(0, len(histories), 256):
        h, t = histories[lo : lo + 256], targets[lo : lo + 256]
        s = model.user_vectors(h) @ table.T / model.tau
        ranks.append(ranks_from_scores(mask_seen(s, h, t), t))
    model.encoder.train(was)
    return float(summarize(torch.cat(ranks), (k,))[f"recall@{k}"])


def _train_epoch(model, opt, batches, steps: int, table: torch.Tensor) -> float:
    model.encoder.train()
    total = 0.0
    for _ in range(steps):
        histories, targets = next(batches)
        loss = table_loss(model.user_vectors(histories), table, targets, model.tau)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    return total / max(steps, 1)


def _epochs(steps: int, every: int) -> list[int]:
    return [min(every, steps - lo) for lo in range(0, steps, every)]


def two_stage_finetune(
    model,
    batches,
    stage1_steps: int,
    stage2_steps: int,
    refresh_every: int,
    lr: float,
    valid_histories,
    valid_targets: torch.Tensor,
) -> tuple[torch.Tensor, list[dict]]:
    """Algorithm 1 on ``model`` (a Recformer being fitted): returns the frozen item table ``I``
    ((num_items + 1, d), row 0 zero) and a log of one dict per epoch (stage, steps, loss, valid
    Recall@20). ``model.encoder`` ends with the best stage-2 parameters (stage 1's best when
    ``stage2_steps == 0``)."""
    enc = model.encoder
    log: list[dict] = []
    opt = torch.optim.Adam([p for p in enc.parameters() if p.requires_grad], lr=lr)
    table = model.encode_table()
    best = None
    for n in _epochs(stage1_steps, refresh_every):
        loss = _train_epoch(model, opt, batches, n, table)
        table = model.encode_table()  # the next epoch's I, and the one this epoch is validated on
        score = valid_recall(model, table, valid_histories, valid_targets)
        log.append({"stage": 1, "steps": n, "loss": loss, "valid_recall@20": score})
        if best is None or score > best[0]:
            best = (score, copy.deepcopy(enc.state_dict()), table)
    if best is not None:
        enc.load_state_dict(best[1])
        table = best[2]
    table = table.detach().clone()  # stage 2: I is frozen from here on
    opt = torch.optim.Adam([p for p in enc.parameters() if p.requires_grad], lr=lr)
    best2 = None if best is None else (best[0], best[1])  # stage 1's best is stage 2's step 0
    for n in _epochs(stage2_steps, refresh_every):
        loss = _train_epoch(model, opt, batches, n, table)
        score = valid_recall(model, table, valid_histories, valid_targets)
        log.append({"stage": 2, "steps": n, "loss": loss, "valid_recall@20": score})
        if best2 is None or score > best2[0]:
            best2 = (score, copy.deepcopy(enc.state_dict()))
    if best2 is not None:
        enc.load_state_dict(best2[1])
    enc.eval()
    return table, log
