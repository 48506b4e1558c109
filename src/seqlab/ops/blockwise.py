"""Evaluate a function over blocks of an axis with bounded memory.

``map_blocks(fn, xs, dim, block, out_dim)`` returns ``cat([fn(*x_blocks) for each block], out_dim)``
where every ``x`` in ``xs`` is split into blocks of ``block`` along ``dim``. With autograd on, each
block is checkpointed: its intermediates (e.g. an ``(H, N, block)`` Cauchy or Vandermonde matrix)
are dropped after the forward and recomputed in backward, so peak memory follows ``block``, not the
full axis. Tensors ``fn`` closes over receive their gradients as usual. The inputs are split with
``torch.split`` (one backward node) rather than sliced block by block.
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
