"""Default loss and metric of the training loop, over the positions a batch's mask selects.

- classes / pointer targets (``LongTensor (n, L)``): cross-entropy of ``logits (n, L, C)`` at
  masked positions; accuracy = fraction of masked positions whose argmax equals the target;
- float targets ``(n, L, k)``: mean squared error over masked positions.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def _mask(batch: dict[str, Any], targets: torch.Tensor) -> torch.Tensor:
    mask = batch.get("mask")
    if mask is None:
        return torch.ones(targets.shape[:2], dtype=torch.bool, device=targets.device)
    return mask.bool()


def masked_loss_from_outputs(outputs: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
    targets = batch["targets"]
    mask = _mask(batch, targets)
    if not mask.any():
        raise ValueError("batch mask selects no position: nothing to train on")
    if targets.is_floating_point():
        return F.mse_loss(outputs[mask].float(), targets[mask].float())
    return F.cross_entropy(outputs[mask].float(), targets[mask])


def masked_loss(model: torch.nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, logits)`` of ``model(batch["inputs"])`` against the masked targets."""
    outputs = model(batch["inputs"])
    return masked_loss_from_outputs(outputs, batch), outputs


def masked_accuracy(outputs: Any, batch: dict[str, Any]) -> float | None:
    """Masked per-token accuracy, or None when the outputs are not class logits."""
    targets = batch.get("targets")
    if not isinstance(outputs, torch.Tensor) or targets is None or targets.is_floating_point():
        return None
    if outputs.dim() != targets.dim() + 1:
        return None
    mask = _mask(batch, targets)
    hits = (outputs.argmax(-1) == targets) & mask
    return float(hits.sum()) / max(1, int(mask.sum()))
