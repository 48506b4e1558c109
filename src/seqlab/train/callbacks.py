"""Hooks into the one training loop (:func:`seqlab.train.fit`).

Continual-learning strategies, length-generalization interventions and logging plug in here
instead of subclassing the loop. Every hook is optional; the loop calls them in list order.
"""

from __future__ import annotations

from typing import Any

import torch


class Callback:
    """No-op base; override what you need.

    - ``on_fit_start(model, optimizer)``: once, before the first step.
    - ``transform_batch(model, batch) -> batch``: change a batch before the forward pass
      (e.g. add replayed examples).
    - ``extra_loss(model, batch, outputs) -> Tensor | None``: a term added to the task loss
      (e.g. an EWC penalty or distillation); ``outputs`` is what the model returned.
    - ``after_backward(model)``: gradients exist, the optimizer has not stepped
      (e.g. project gradients, accumulate importance).
    - ``after_step(model, step, metrics)``: parameters are updated; ``metrics`` holds the loss.
    - ``on_fit_end(model)``: once, after the last step.
    """

    def on_fit_start(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        pass

    def transform_batch(self, model: torch.nn.Module, batch: dict[str, Any]) -> dict[str, Any]:
        return batch

    def extra_loss(self, model: torch.nn.Module, batch: dict[str, Any], outputs: Any) -> torch.Tensor | None:
        return None

    def after_backward(self, model: torch.nn.Module) -> None:
        pass

    def after_step(self, model: torch.nn.Module, step: int, metrics: dict[str, float]) -> None:
        pass

    def on_fit_end(self, model: torch.nn.Module) -> None:
        pass
