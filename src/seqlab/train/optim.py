"""Optimizer set-up for :func:`seqlab.train.fit`: parameter groups and the optimizer itself.

Decoupled weight decay ("Decoupled Weight Decay Regularization", Loshchilov & Hutter, arXiv 1711.05101)
shrinks every decayed parameter toward 0 each step: ``p <- p - lr * (adam_update + wd * p)``. That is
a sensible prior for the weight matrices of linear maps, and a harmful one for parameters whose
value is not a "weight" but a scale, an offset or a dynamical constant. Groups (the split GPT-2
style trainers use, by dimension, plus an explicit tag):

- **decay**: parameters with ``dim() >= 2`` (linear, convolution and projection matrices);
- **no decay**:
  - parameters with ``dim() < 2``: biases, LayerNorm/RMSNorm gains, 1-d SSM parameters (decay would
    pull a norm gain toward 0 instead of toward 1);
  - ``nn.Embedding`` tables (token and learned position embeddings): a row gets a gradient only when its
    token occurs in the batch, but decay shrinks every row every step, so rare tokens fade between
    occurrences; the embedding's scale also sets the size of the residual stream;
  - any parameter tagged ``param._no_weight_decay = True``. SSM mixers tag their eigenvalue / decay
    parameters (``A_log`` of Mamba, the diagonal ``Lambda`` and ``B`` of S4/S4D): decaying ``A_log``
    toward 0 drives every decay rate toward ``exp(-dt)``, erasing the initialised spread of
    time-scales. S4 ("Efficiently Modeling Long Sequences with Structured State Spaces",
    arXiv 2111.00396) and Mamba (arXiv 2312.00752) exclude these from weight decay in their code.
    The tag is a Python attribute of the parameter: ``copy.deepcopy`` of a model does not keep it
    (torch's ``Parameter.__deepcopy__`` copies the data only), so tag again after copying a model
    that will be trained.
"""

from __future__ import annotations

import torch
from torch import nn

NO_DECAY_MODULES = (nn.Embedding, nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def no_weight_decay(param: nn.Parameter) -> nn.Parameter:
    """Tag ``param`` so that :func:`param_groups` never decays it; returns it."""
    param._no_weight_decay = True
    return param


def split_decay(model: nn.Module) -> tuple[list[tuple[str, nn.Parameter]], list[tuple[str, nn.Parameter]]]:
    """``(decay, no_decay)`` lists of ``(name, parameter)`` of the trainable parameters; see the module
    docstring for the rule. A parameter shared between modules is listed once."""
    no_decay_ids = set()
    for module in model.modules():
        if isinstance(module, NO_DECAY_MODULES):
            no_decay_ids.update(id(p) for p in module.parameters(recurse=False))
    decay, rest = [], []
    for name, p in model.named_parameters():  # named_parameters() already skips shared duplicates
        if not p.requires_grad:
            continue
        skip = p.dim() < 2 or id(p) in no_decay_ids or getattr(p, "_no_weight_decay", False)
        (rest if skip else decay).append((name, p))
    return decay, rest


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Optimizer parameter groups: ``[{"params": decay, "weight_decay": weight_decay, "name": "decay"},
    {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"}]`` (empty groups dropped)."""
    if not isinstance(weight_decay, (int, float)) or isinstance(weight_decay, bool) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a non-negative number, got {weight_decay!r}")
    decay, rest = split_decay(model)
    groups = [
        {"params": [p for _, p in decay], "weight_decay": float(weight_decay), "name": "decay"},
        {"params": [p for _, p in rest], "weight_decay": 0.0, "name": "no_decay"},
    ]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("model has no trainable parameters (requires_grad=True): nothing to optimize")
    return groups


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """AdamW, Adam (L2 penalty) or SGD with momentum 0.9 over ``params`` (tensors or groups); a group's
    own ``weight_decay`` overrides ``weight_decay``."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9)
    raise ValueError(f"optimizer must be 'adamw', 'adam' or 'sgd', got {name!r}")
