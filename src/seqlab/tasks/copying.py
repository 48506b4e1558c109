"""Copying tasks: copy with a delay, selective copying, induction heads.

- ``copying`` ("Unitary Evolution Recurrent Neural Networks", arXiv 1511.06464): ``N`` symbols from
  ``[1, K]``, then ``delay`` blanks (0), one delimiter ``K+1``, then ``N`` blanks; the targets at the
  last ``N`` positions are the ``N`` symbols in order. Input length ``2N + delay + 1``.
- ``selective_copying`` ("Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
  arXiv 2312.00752): ``N`` data tokens from ``[2, V)`` at sorted random positions of a context of
  ``seq_len`` noise tokens (0), then ``N`` marker tokens (1); the target at the ``i``-th marker is
  the ``i``-th data token.
- ``induction_heads`` ("In-context Learning and Induction Heads", arXiv 2209.11895; as a synthetic
  task in "Hungry Hungry Hippos", arXiv 2212.14052): random tokens from ``[0, V-1)``; the trigger
  ``V-1`` appears once at position ``p`` followed by answer ``a``, and again at the last position,
  where the target is ``a``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


def _only_fixed_length(name: str, length) -> None:
    if length is not None:
        raise ValueError(f"{name} has a fixed sequence length; pass length=None")


@register(
    "task",
    "copying",
    implements=Paper("Unitary Evolution Recurrent Neural Networks", "1511.06464"),
    description="copy N symbols after a long delay of blanks",
    metric="accuracy",
)
@dataclass
class Copying(Task):
    """Copy ``n_tokens`` symbols after ``delay`` blanks."""

    n_symbols: int = 8
    n_tokens: int = 10
    delay: int = 50
    vocab_size: int = field(default=0, init=False)
    n_outputs: int = field(default=0, init=False)

    def __post_init__(self):
        check_ints("copying", n_symbols=self.n_symbols, n_tokens=self.n_tokens)
        check_ints("copying", minimum=0, delay=self.delay)
        self.vocab_size = self.n_symbols + 2  # blank 0, symbols 1..K, delimiter K+1
        self.n_outputs = self.n_symbols + 1

    def generate(self, n, length, generator):
        _only_fixed_length("copying", length)
        N, K = self.n_tokens, self.n_symbols
        L = 2 * N + self.delay + 1
        symbols = torch.randint(1, K + 1, (n, N), generator=generator)
        inputs = torch.zeros(n, L, dtype=torch.long)
        inputs[:, :N] = symbols
        inputs[:, N + self.delay] = K + 1
        targets = torch.zeros(n, L, dtype=torch.long)
        targets[:, L - N :] = symbols
        mask = torch.zeros(n, L, dtype=torch.bool)
        mask[:, L - N :] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}


@register(
    "task",
    "selective_copying",
    implements=Paper("Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "2312.00752"),
    description="reproduce in order the data tokens scattered among noise tokens",
    metric="accuracy",
)
@dataclass
class SelectiveCopying(Task):
    """Data tokens scattered in ``seq_len`` noise slots, recalled in order after the context."""

    vocab_size: int = 16
    seq_len: int = 64
    n_tokens: int = 8
    n_outputs: int = field(default=0, init=False)

    def __post_init__(self):
        check_ints(
            "selective_copying", vocab_size=self.vocab_size, seq_len=self.seq_len, n_tokens=self.n_tokens
        )
        if self.vocab_size < 3:
            raise ValueError(
                f"selective_copying: vocab_size must be >= 3 (noise 0, marker 1, data tokens), "
                f"got {self.vocab_size}"
            )
        if self.seq_len < self.n_tokens:
            raise ValueError(
                f"selective_copying: n_tokens={self.n_tokens} data tokens need seq_len >= n_tokens, "
                f"got seq_len={self.seq_len}"
            )
        self.n_outputs = self.vocab_size

    def generate(self, n, length, generator):
        _only_fixed_length("selective_copying", length)
        T, N = self.seq_len, self.n_tokens
        data = torch.randint(2, self.vocab_size, (n, N), generator=generator)
        pos = torch.rand(n, T, generator=generator).argsort(dim=1)[:, :N].sort(dim=1).values
        inputs = torch.zeros(n, T + N, dtype=torch.long)
        inputs.scatter_(1, pos, data)
        inputs[:, T:] = 1
        targets = torch.zeros(n, T + N, dtype=torch.long)
        targets[:, T:] = data
        mask = torch.zeros(n, T + N, dtype=torch.bool)
        mask[:, T:] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}


@register(
    "task",
    "induction_heads",
    implements=(
        Paper("In-context Learning and Induction Heads", "2209.11895"),
        Paper("Hungry Hungry Hippos: Towards Language Modeling with State Space Models", "2212.14052"),
    ),
    description="recall the token that followed the trigger token, at the trigger's second occurrence",
    metric="accuracy",
)
@dataclass
class InductionHeads(Task):
    """The trigger ``V-1`` appears twice; at its second (last) occurrence recall its first successor."""

    vocab_size: int = 20
    seq_len: int = 30
    n_outputs: int = field(default=0, init=False)

    def __post_init__(self):
        check_ints("induction_heads", vocab_size=self.vocab_size, seq_len=self.seq_len)
        if self.vocab_size < 3:
            raise ValueError(f"induction_heads: vocab_size must be >= 3, got {self.vocab_size}")
        if self.seq_len < 3:
            raise ValueError(
                f"induction_heads: seq_len must be >= 3 (trigger, answer, trigger), got {self.seq_len}"
            )
        self.n_outputs = self.vocab_size

    def generate(self, n, length, generator):
        _only_fixed_length("induction_heads", length)
        L, trig = self.seq_len, self.vocab_size - 1
        inputs = torch.randint(0, trig, (n, L), generator=generator)
        p = torch.randint(0, L - 2, (n,), generator=generator)
        rows = torch.arange(n)
        inputs[rows, p] = trig
        inputs[:, L - 1] = trig
        targets = torch.zeros(n, L, dtype=torch.long)
        targets[:, L - 1] = inputs[rows, p + 1]
        mask = torch.zeros(n, L, dtype=torch.bool)
        mask[:, L - 1] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}
