"""Evaluate a function over blocks of an axis with bounded memory.

``map_blocks(fn, xs, dim, block, out_dim)`` returns ``cat([fn(*x_blocks) for each block], out_dim)``
where every ``x`` in ``xs`` is split into blocks of ``block`` along ``dim``. With autograd on, each
block is checkpointed: its intermediates (e.g. an ``(H, N, block)`` Cauchy or Vandermonde matrix)
are dropped after the forward and recomputed in backward, so peak memory follows ``block``, not the
full axis. Tensors ``fn`` closes over receive their gradients as usual. The inputs are split with
``torch.split`` (one backward node) rather than sliced block by block.

``scan_in_blocks(fn, h0, inputs, block)`` does the same for a recurrence whose state is carried
from block to block (used by the GateLoop and Mamba scans): only block-boundary states are kept.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint


def map_blocks(
    fn: Callable[..., torch.Tensor],
    xs: tuple[torch.Tensor, ...],
    dim: int,
    block: int,
    out_dim: int,
) -> torch.Tensor:
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"map_blocks expects a positive int block, got {block!r}")
    if not xs or len({x.shape[dim] for x in xs}) != 1:
        raise ValueError(f"map_blocks expects tensors of one size along dim {dim}, got "
                         f"{[tuple(x.shape) for x in xs]}")
    if xs[0].shape[dim] <= block:
        return fn(*xs)
    grad = torch.is_grad_enabled()
    outs = [
        checkpoint(fn, *parts, use_reentrant=False) if grad else fn(*parts)
        for parts in zip(*(x.split(block, dim=dim) for x in xs))
    ]
    return torch.cat(outs, dim=out_dim)


BLOCK_NUMEL = 2**20  # states per scan block: 8 MiB complex64 per copy


def scan_in_blocks(
    fn: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    h0: torch.Tensor,
    inputs: tuple[torch.Tensor, ...],
    block: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``y, h = fn(h, *inputs[:, block slice])`` over consecutive time blocks.

    ``fn`` evaluates a recurrence on one block from state ``h`` and returns the block's outputs
    (time at dim 1) and its final state, a fresh tensor (a view would keep the block's states
    alive). With autograd on, each block is checkpointed: only the block-boundary states are kept
    and the block is recomputed in backward, so the per-step states (``L x state`` numbers)
    never sit in memory all at once. ``block=None`` picks the
    block length so that one block's states hold about ``BLOCK_NUMEL`` numbers (batch included).
    """
    length = inputs[0].shape[1]
    if block is None:
        block = max(1, BLOCK_NUMEL // h0.numel())
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (h0, *inputs))
    if block >= length:  # one block: checkpointing would only add a recomputation
        return fn(h0, *inputs)
    ys, h = [], h0
    # split, not slicing: one backward node gathers the blocks' gradients, where every slice's
    # backward would write a full-length zero tensor (O(L^2 / block) work and memory traffic)
    for args in zip(*(t.split(block, dim=1) for t in inputs)):
        y, h = checkpoint(fn, h, *args, use_reentrant=False) if grad else fn(h, *args)
        ys.append(y)
    return torch.cat(ys, dim=1), h
