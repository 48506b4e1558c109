"""State-coverage training interventions for recurrent models.

"Understanding and Improving Length Generalization in Recurrent Models" (arXiv 2507.02782):
recurrent models fail beyond their training length when training only ever visits the states
reachable from the zero state in ``T`` steps. Starting each training sequence from a state that
covers more of the attainable states helps:

- ``"noise"``:   h_0 ~ N(0, sigma^2 I) (every floating state tensor of every layer);
- ``"foreign"``: h_0 = h_T(x') -- the final state after another sequence x' of the batch
  (the batch rolled by one), computed without gradient.

Evaluation still starts from the zero state. Needs a model with ``init_state`` and
``forward_with_state`` (:class:`~seqlab.models.SequenceModel` over a recurrent mixer).
"""

from __future__ import annotations

from typing import Any

import torch

from seqlab.train.losses import masked_loss_from_outputs

KINDS = ("zero", "noise", "foreign")


def _map_float(state: Any, fn) -> Any:
    if isinstance(state, torch.Tensor):
        return fn(state) if state.is_floating_point() or state.is_complex() else state
    if isinstance(state, dict):
        return {k: _map_float(v, fn) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_map_float(v, fn) for v in state)
    return state


def initial_state(model, inputs: torch.Tensor, kind: str, sigma: float = 1.0):
    """The training initial state of ``kind`` for a batch of ``inputs`` (position counter at 0)."""
    if kind not in KINDS:
        raise ValueError(f"state_init must be one of {KINDS}, got {kind!r}")
    b = inputs.shape[0]
    state = model.init_state(b, inputs.device, model.head.weight.dtype)
    if kind == "noise":
        state = _map_float(state, lambda t: torch.randn_like(t) * sigma)
    elif kind == "foreign":
        with torch.no_grad():
            _, state = model.forward_with_state(inputs.roll(1, dims=0), state)
        state = _map_float(state, lambda t: t.detach())
    return {"t": 0, "layers": state["layers"]}


def state_init_loss(kind: str, sigma: float = 1.0):
    """A :func:`~seqlab.train.fit` ``loss_fn`` that trains from the ``kind`` initial state."""
    if kind not in KINDS:
        raise ValueError(f"state_init must be one of {KINDS}, got {kind!r}")

    def loss_fn(model, batch):
        x = batch["inputs"]
        if kind == "zero":
            out = model(x)
        else:
            out, _ = model.forward_with_state(x, initial_state(model, x, kind, sigma))
        return masked_loss_from_outputs(out, batch), out

    return loss_fn
