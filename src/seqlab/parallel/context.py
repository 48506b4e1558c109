"""Context parallelism for recurrent sequence models: each rank owns one span of a long sequence.

A model with seqlab's chunked contract, ``y, state = m.forward_with_state(x, state)``, satisfies
``m(concat(x_0, ..., x_{P-1})) = concat(y_0, ..., y_{P-1})`` with
``y_r, s_r = m.forward_with_state(x_r, s_{r-1})`` and ``s_{-1} = None`` (the empty state). So rank
``r`` of ``P`` can hold only its span ``x_r`` (split by :func:`span_of`, lengths that do not divide
evenly give the first ``L mod P`` ranks one more position), run the chunked form on it, and pass
``s_r`` to rank ``r + 1``. Backpropagation runs the chain the other way: rank ``r`` receives
``dLoss/ds_r`` from rank ``r + 1``, backpropagates its span with ``(dLoss/dy_r, dLoss/ds_r)``
and sends ``dLoss/ds_{r-1}`` to rank ``r - 1``. Outputs and input gradients are exact; parameter
gradients are per-span parts whose sum over ranks (:func:`seqlab.parallel.comm.sum_grads`) is the
full gradient.

Ranks wait on each other in a chain (rank ``r`` starts when ``r - 1`` finishes its span), so one
sequence gains memory (activations of ``L / P`` positions per rank), not speed; throughput needs
several sequences in flight (pipelining), which this module does not do. States are small (the
mixer's ``state_size`` per layer), so each hop sends kilobytes where sharding attention would move
activations.

States may be tensors (real or complex, transported as real views), Python scalars (e.g. the
model's position counter) and any nesting of tuples, lists and dicts of them; their layout is sent
ahead of the tensors, so growing states (attention's cache) also work.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils import _pytree as pytree

from seqlab.parallel.comm import COUNTER


def span_of(length: int, world: int, rank: int) -> tuple[int, int]:
    """``[start, end)`` of rank ``rank``'s span of a sequence of ``length`` over ``world`` ranks."""
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"need 0 <= rank < world, got rank={rank} world={world}")
    if length < world:
        raise ValueError(f"a sequence of length {length} cannot give each of {world} ranks a position")
    base, extra = divmod(length, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _wire(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().contiguous()
    return torch.view_as_real(t).contiguous() if t.is_complex() else t


def _send_state(state: Any, dst: int) -> None:
    leaves, spec = pytree.tree_flatten(state)
    layout = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            layout.append(("tensor", tuple(leaf.shape), leaf.dtype))
        elif isinstance(leaf, (int, float, bool, str)) or leaf is None:
            layout.append(("value", leaf, None))
        else:
            raise ValueError(f"context parallelism cannot send a state leaf of type {type(leaf).__name__}")
    dist.send_object_list([spec, layout], dst=dst)
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            w = _wire(leaf)
            dist.send(w, dst=dst)
            COUNTER.add(w.numel() * w.element_size(), backward=False)


def _recv_state(src: int, device) -> tuple[Any, list[torch.Tensor]]:
    box: list[Any] = [None, None]
    dist.recv_object_list(box, src=src)
    spec, layout = box
    leaves, tensors = [], []
    for kind, a, dtype in layout:
        if kind == "value":
            leaves.append(a)
            continue
        cplx = dtype.is_complex
        buf = torch.empty((*a, 2) if cplx else a, dtype=dtype.to_real() if cplx else dtype)
        dist.recv(buf, src=src)
        t = torch.view_as_complex(buf) if cplx else buf
        t = t.to(device)
        if t.is_floating_point() or t.is_complex():
            t.requires_grad_(True)
            tensors.append(t)
        leaves.append(t)
    return pytree.tree_unflatten(leaves, spec), tensors


def _grad_leaves(state: Any) -> list[torch.Tensor]:
    return [
        t
        for t in pytree.tree_leaves(state)
        if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex())
    ]


class _Relay(torch.autograd.Function):
    @staticmethod
    def forward(ctx, module, x, *params):
        rank, world = dist.get_rank(), dist.get_world_size()
        state_in, state_leaves = (None, []) if rank == 0 else _recv_state(rank - 1, x.device)
        with torch.enable_grad():
            xd = x.detach()
            if x.is_floating_point() and x.requires_grad:
                xd.requires_grad_(True)
            y, state_out = module.forward_with_state(xd, state_in)
        if rank < world - 1:
            _send_state(state_out, rank + 1)
        ctx.rank, ctx.world = rank, world
        ctx.graph = (xd, y, state_leaves, _grad_leaves(state_out), params)
        return y.detach()

    @staticmethod
    def backward(ctx, gy):
        xd, y, state_in, state_out, params = ctx.graph
        del ctx.graph
        g_out = [torch.zeros_like(t) for t in state_out]
        if ctx.rank < ctx.world - 1:
            for g in g_out:
                buf = _wire(g)
                dist.recv(buf, src=ctx.rank + 1)
                g.copy_(torch.view_as_complex(buf) if g.is_complex() else buf)
        outs, grads = [y], [gy]
        for t, g in zip(state_out, g_out):
            if t.requires_grad:
                outs.append(t)
                grads.append(g)
        inputs = ([xd] if xd.requires_grad else []) + list(state_in) + list(params)
        got = torch.autograd.grad(outs, inputs, grads, allow_unused=True) if inputs else ()
        got = list(got)
        gx = got.pop(0) if xd.requires_grad else None
        g_states, g_params = got[: len(state_in)], got[len(state_in) :]
        if ctx.rank > 0:
            for t, g in zip(state_in, g_states):
                w = _wire(g if g is not None else torch.zeros_like(t))
                dist.send(w, dst=ctx.rank - 1)
                COUNTER.add(w.numel() * w.element_size(), backward=True)
        return (None, gx, *g_params)


def context_parallel(module: nn.Module, x_local: torch.Tensor) -> torch.Tensor:
    """This rank's outputs ``y_r`` for its span ``x_local`` of one long sequence (differentiable).

    Every rank of the default process group calls this in rank order of spans (rank 0 holds the
    start). ``module`` needs ``forward_with_state(x, state) -> (y, state)`` along dim 1; parameters
    must be the same on every rank. After ``backward`` call
    :func:`seqlab.parallel.comm.sum_grads` to add the ranks' parameter gradients.
    """
    if not hasattr(module, "forward_with_state"):
        raise ValueError(f"{type(module).__name__} has no forward_with_state(x, state) (no chunked form)")
    if not dist.is_initialized():
        raise ValueError("context_parallel needs an initialised default process group (torchrun)")
    if not isinstance(x_local, torch.Tensor) or x_local.dim() < 2 or x_local.shape[1] == 0:
        raise ValueError("x_local must be a tensor (batch, span_length, ...) with span_length >= 1")
    params = [p for p in module.parameters() if p.requires_grad]
    return _Relay.apply(module, x_local, *params)
