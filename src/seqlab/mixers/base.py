"""The mixer contract shared by every sequence mixer.

A mixer maps ``x: (batch, length, d_model)`` to ``y`` of the same shape. One with a recurrent
form also runs

- chunked with state: ``y, state = mixer.forward_with_state(x, state)``; feeding ``a`` then ``b``
  with the carried state equals feeding ``concat(a, b)``;
- step: ``y_t, state = mixer.step(x_t, state)`` with ``x_t: (batch, d_model)``;

and ``mixer.init_state(batch, device, dtype)`` makes the empty state. States are tensors, or
tuples/dicts of tensors, whose first dimension is the batch, so :func:`reset_state` can clear
chosen sequences (as in-context RL needs at episode boundaries).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqlab import debug

State = Any

ALL_MODES = ("parallel", "chunked", "step")


class Mixer(nn.Module):
    """Base class: input checks and the default recurrent interface.

    Subclasses set ``modes`` (a subset of ``ALL_MODES``), ``causal`` and ``state_size`` (a short
    formula such as ``"d_model * d_state"``, or ``"O(L * d_model)"`` for a growing cache).
    """

    modes: tuple[str, ...] = ("parallel",)
    state_size: str = "-"

    def __init__(self, d_model: int, causal: bool = True):
        super().__init__()
        if not isinstance(d_model, int) or d_model <= 0:
            raise ValueError(f"d_model must be a positive int, got {d_model!r}")
        self.d_model = d_model
        self.causal = causal

    # -- input checks -------------------------------------------------------------------
    def check_input(self, x: torch.Tensor, *, step: bool = False) -> None:
        """Raise ``ValueError`` naming what was expected when ``x`` cannot be mixed."""
        name = type(self).__name__
        want = "(batch, d_model)" if step else "(batch, length, d_model)"
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} expects a torch.Tensor of shape {want}, got {type(x).__name__}")
        if x.dim() != (2 if step else 3):
            raise ValueError(f"{name} expects x of shape {want}, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"{name} expects last dim d_model={self.d_model}, got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"{name} expects a floating-point tensor, got dtype {x.dtype}")
        if not step and x.shape[1] == 0:
            raise ValueError(f"{name} expects a non-empty sequence (length >= 1), got length 0")
        if x.shape[0] == 0:
            raise ValueError(f"{name} expects batch >= 1, got an empty batch")
        if debug.enabled() and not torch.isfinite(x).all():  # a value read: device sync per layer
            raise ValueError(f"{name} expects finite inputs, got NaN or inf")

    # -- recurrent interface (overridden by mixers that support it) ---------------------
    def init_state(self, batch: int, device=None, dtype=None) -> State:
        raise NotImplementedError(f"{type(self).__name__} has no recurrent state (modes: {self.modes})")

    def forward_with_state(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        raise NotImplementedError(f"{type(self).__name__} has no chunked mode (modes: {self.modes})")

    def step(self, x_t: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        raise NotImplementedError(f"{type(self).__name__} has no step mode (modes: {self.modes})")


def reset_state(state: State, done: torch.Tensor, fresh: State) -> State:
    """Replace the state of sequences where ``done`` (bool, shape ``(batch,)``) by ``fresh``."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        mask = done.view(-1, *([1] * (state.dim() - 1))).to(state.device)
        return torch.where(mask, fresh, state)
    if isinstance(state, dict):
        return {k: reset_state(v, done, fresh[k]) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(reset_state(s, done, f) for s, f in zip(state, fresh))
    return state
