"""Differentiable collectives for sequence parallelism, with a count of the bytes each rank sends.

* :func:`all_to_all` re-shards a tensor: split along ``scatter_dim`` into ``P`` equal parts, send part
  ``j`` to rank ``j``, concatenate what arrives along ``gather_dim``. Its adjoint is the all-to-all
  with the two dims swapped, which is what the backward runs.
* :func:`ring_shift` sends a tensor to rank ``r + 1`` and receives rank ``r - 1``'s (mod ``P``); its
  adjoint shifts the gradient the other way.
* :func:`sum_grads` sums parameter gradients over ranks (replicated weights, sharded activations).

Every call adds what this rank puts on the wire to :data:`COUNTER` (``forward`` or ``backward``),
so the benchmark reports measured, not assumed, communication volumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class ByteCounter:
    """Bytes this rank sent, by pass; ``reset()`` between measurements."""

    forward: int = 0
    backward: int = 0

    def reset(self) -> None:
        self.forward = self.backward = 0

    def add(self, nbytes: int, backward: bool) -> None:
        if backward:
            self.backward += nbytes
        else:
            self.forward += nbytes


COUNTER = ByteCounter()


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _a2a(x: torch.Tensor, scatter_dim: int, gather_dim: int, group, backward: bool) -> torch.Tensor:
    world = dist.get_world_size(group)
    if x.shape[scatter_dim] % world:
        raise ValueError(
            f"all_to_all needs dim {scatter_dim} of shape {tuple(x.shape)} divisible by the "
            f"world size {world}"
        )
    if world == 1:
        return x
    parts = [p.contiguous() for p in x.chunk(world, dim=scatter_dim)]
    outs = [torch.empty_like(parts[0]) for _ in range(world)]
    dist.all_to_all(outs, parts, group=group)
    COUNTER.add(sum(_nbytes(p) for p in parts) * (world - 1) // world, backward)
    return torch.cat(outs, dim=gather_dim)


class _AllToAll(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scatter_dim, gather_dim, group):
        ctx.dims, ctx.group = (scatter_dim, gather_dim), group
        return _a2a(x, scatter_dim, gather_dim, group, backward=False)

    @staticmethod
    def backward(ctx, grad):
        scatter_dim, gather_dim = ctx.dims
        return _a2a(grad.contiguous(), gather_dim, scatter_dim, ctx.group, backward=True), None, None, None


def all_to_all(x: torch.Tensor, scatter_dim: int, gather_dim: int, group=None) -> torch.Tensor:
    """Re-shard ``x`` from ``gather_dim`` to ``scatter_dim`` (differentiable; see module docstring)."""
    if scatter_dim == gather_dim:
        raise ValueError(f"scatter_dim and gather_dim must differ, got {scatter_dim} for both")
    return _AllToAll.apply(x, scatter_dim % x.dim(), gather_dim % x.dim(), group)


def _shift(x: torch.Tensor, offset: int, group, backward: bool) -> torch.Tensor:
    world = dist.get_world_size(group)
    if world == 1:
        return x
    rank = dist.get_rank(group)
    x = x.contiguous()
    out = torch.empty_like(x)
    dst, src = (rank + offset) % world, (rank - offset) % world
    if group is not None:
        dst, src = dist.get_global_rank(group, dst), dist.get_global_rank(group, src)
    ops = [dist.P2POp(dist.isend, x, dst, group), dist.P2POp(dist.irecv, out, src, group)]
    for work in dist.batch_isend_irecv(ops):
        work.wait()
    COUNTER.add(_nbytes(x), backward)
    return out


class _RingShift(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        return _shift(x, 1, group, backward=False)

    @staticmethod
    def backward(ctx, grad):
        return _shift(grad, -1, ctx.group, backward=True), None


def ring_shift(x: torch.Tensor, group=None) -> torch.Tensor:
    """Rank ``r - 1``'s ``x`` (mod world size), sending this rank's ``x`` to ``r + 1`` (differentiable)."""
    return _RingShift.apply(x, group)


def sum_grads(module: nn.Module, group=None) -> None:
    """Sum every parameter's ``.grad`` over ranks in place (missing grads count as zeros)."""
    if not dist.is_initialized() or dist.get_world_size(group) == 1:
        return
    for p in module.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, group=group)
