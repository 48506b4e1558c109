"""Patch orderings for images read as sequences: fixed scans and a learned Plackett-Luce policy.

Paper: "REOrdering Patches Improves Vision Models" (REOrder). An ordering is a permutation ``pi`` of
the ``H W`` raster indices; the sequence is ``x_pi = (x_{pi_1}, ..., x_{pi_N})`` and ``x = x_pi[pi^-1]``.
Fixed scans: row-major, column-major, snake (boustrophedon) and the Hilbert curve (on the
enclosing power-of-two square, cells outside the grid skipped). REOrder's prior scores an order by
the compressibility of the resulting token sequence; its learned policy is Plackett-Luce::

    P(pi | theta) = prod_{i=1..N} exp(theta_{pi_i}) / sum_{j >= i} exp(theta_{pi_j})

sampled as ``argsort(theta + Gumbel)`` and trained by REINFORCE:
``grad = E[(L(pi) - b) grad log P(pi | theta)]`` with ``b`` the batch-mean loss.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from seqlab.registry import Paper, register

REORDER = "REOrdering Patches Improves Vision Models"


def _check_hw(h: int, w: int) -> None:
    if not isinstance(h, int) or not isinstance(w, int) or h < 1 or w < 1:
        raise ValueError(f"grid size must be positive ints, got height={h!r}, width={w!r}")


def row_major(h: int, w: int) -> torch.Tensor:
    _check_hw(h, w)
    return torch.arange(h * w)


def column_major(h: int, w: int) -> torch.Tensor:
    _check_hw(h, w)
    return torch.arange(h * w).view(h, w).t().reshape(-1)


def snake(h: int, w: int) -> torch.Tensor:
    _check_hw(h, w)
    grid = torch.arange(h * w).view(h, w).clone()
    grid[1::2] = grid[1::2].flip(-1)
    return grid.reshape(-1)


def _hilbert_xy(n: int, d: int) -> tuple[int, int]:
    x = y = 0
    s, t = 1, d
    while s < n:
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        if ry == 0:
            if rx == 1:
                x, y = s - 1 - x, s - 1 - y
            x, y = y, x
        x, y = x + s * rx, y + s * ry
        t //= 4
        s *= 2
    return x, y


def hilbert(h: int, w: int) -> torch.Tensor:
    _check_hw(h, w)
    n = 1
    while n < max(h, w):
        n *= 2
    order = []
    for d in range(n * n):
        x, y = _hilbert_xy(n, d)
        if y < h and x < w:
            order.append(y * w + x)
    return torch.tensor(order)


ORDERINGS = {"row-major": row_major, "column-major": column_major, "snake": snake, "hilbert": hilbert}


def inverse(perm: torch.Tensor) -> torch.Tensor:
    """``perm^-1`` (works on a leading batch of permutations)."""
    inv = torch.empty_like(perm)
    return inv.scatter_(-1, perm, torch.arange(perm.shape[-1]).expand_as(perm).contiguous())


def apply_order(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Reorder ``x: (batch, N, ...)`` along dim 1 by ``perm: (N,)`` or ``(batch, N)``."""
    if x.dim() < 2 or perm.shape[-1] != x.shape[1]:
        raise ValueError(f"apply_order expects x (batch, {perm.shape[-1]}, ...), got {tuple(x.shape)}")
    idx = perm.expand(x.shape[0], -1) if perm.dim() == 1 else perm
    idx = idx.reshape(*idx.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return torch.gather(x, 1, idx)


def undo_order(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    return apply_order(x, inverse(perm))


def compressibility(tokens: torch.Tensor, perm: torch.Tensor) -> float:
    """REOrder's prior: zlib-compressed / raw size of byte tokens ``(batch, N)`` read in order ``perm``."""
    seq = apply_order(tokens, perm).to(torch.uint8).numpy().tobytes()
    return len(zlib.compress(seq, 9)) / max(1, len(seq))


@register(
    "tokenizer", "patch-order", implements=Paper(REORDER, "2505.23751"), used_by=[REORDER], family="ordering",
    orders="/".join(ORDERINGS),
)
class PatchOrder:
    """A fixed patch ordering (REOrder's baselines): row-major, column-major, snake or Hilbert."""

    def __init__(self, name: str, height: int, width: int):
        if name not in ORDERINGS:
            raise ValueError(f"unknown ordering {name!r}; expected one of {', '.join(ORDERINGS)}")
        self.name, self.perm = name, ORDERINGS[name](height, width)

    def encode(self, patches: torch.Tensor) -> torch.Tensor:
        return apply_order(patches, self.perm)

    def decode(self, seq: torch.Tensor) -> torch.Tensor:
        return undo_order(seq, self.perm)


@register(
    "tokenizer", "plackett-luce-order", implements=Paper(REORDER, "2505.23751"), used_by=[REORDER],
    family="ordering",
)
class PlackettLucePolicy(nn.Module):
    """REOrder's learned ordering: a Plackett-Luce distribution over permutations, trained by REINFORCE."""

    def __init__(self, num_patches: int, init: torch.Tensor | None = None):
        super().__init__()
        if not isinstance(num_patches, int) or num_patches < 1:
            raise ValueError(f"num_patches must be a positive int, got {num_patches!r}")
        logits = torch.zeros(num_patches) if init is None else init.float().clone()
        if logits.shape != (num_patches,):
            raise ValueError(f"init logits must have shape ({num_patches},), got {tuple(logits.shape)}")
        self.logits = nn.Parameter(logits)

    def sample(self, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(num, N)`` permutations via Gumbel-top-N (exact Plackett-Luce samples)."""
        u = torch.rand(num, self.logits.shape[0], generator=generator).clamp(1e-10, 1 - 1e-10)
        return torch.argsort(self.logits.detach() - torch.log(-torch.log(u)), dim=-1, descending=True)

    def log_prob(self, perms: torch.Tensor) -> torch.Tensor:
        """``log P(pi)`` for ``perms: (num, N)`` via a reversed log-cumsum-exp (fast path)."""
        s = self.logits[perms]
        return (s - torch.logcumsumexp(s.flip(-1), -1).flip(-1)).sum(-1)

    def log_prob_reference(self, perm: torch.Tensor) -> torch.Tensor:
        """The same log-probability as a direct loop over positions (reference for tests)."""
        total = self.logits.new_zeros(())
        for i in range(perm.shape[0]):
            rest = self.logits[perm[i:]]
            total = total + self.logits[perm[i]] - torch.logsumexp(rest, 0)
        return total

    def mode(self) -> torch.Tensor:
        """The most likely permutation: patches by decreasing logit."""
        return torch.argsort(self.logits.detach(), descending=True)

    def reinforce_step(self, loss_fn, optimizer, num_samples: int = 16, generator=None) -> float:
        """One REINFORCE update against ``loss_fn(perm) -> float``; returns the mean sampled loss."""
        perms = self.sample(num_samples, generator)
        losses = torch.tensor([float(loss_fn(p)) for p in perms])
        adv = losses - losses.mean()
        objective = (adv * self.log_prob(perms)).mean()
        optimizer.zero_grad()
        objective.backward()
        optimizer.step()
        return float(losses.mean())
