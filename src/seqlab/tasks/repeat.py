"""The repeat task: read a sequence, a delimiter, then say the sequence again, autoregressively.

From "Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear
Representations" (Csordas, Potts, Manning, Geiger, arXiv 2408.10920). With ``P = length`` symbols
``x_1..x_P`` from ``[0, n_symbols)`` and the delimiter ``n_symbols``, the input is

    x_1 ... x_P  SEP  x_1 ... x_{P-1}            (length 2P)

and the targets at positions ``P .. 2P-1`` (from the delimiter on) are ``x_1 .. x_P``: at the
delimiter the model says ``x_1``, then it reads its own previous output (teacher forcing in training;
greedy decoding feeds back the prediction). Unlike ``copying`` (blanks in the output phase), the
model sees the token it just said, which a network can use to peel that token off its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints

PAPER = Paper(
    "Recurrent Neural Networks Learn to Store and Generate Sequences using Non-Linear Representations",
    "2408.10920",
)


@register(
    "task",
    "repeat",
    implements=PAPER,
    used_by=[PAPER.title],
    description="read P symbols and a delimiter, then repeat them autoregressively",
    metric="accuracy",
)
@dataclass
class Repeat(Task):
    """``length`` symbols, the delimiter ``n_symbols``, then the symbols again (targets from the
    delimiter on)."""

    n_symbols: int = 10
    length: int = 6
    vocab_size: int = field(default=0, init=False)
    n_outputs: int = field(default=0, init=False)

    def __post_init__(self):
        check_ints("repeat", n_symbols=self.n_symbols, length=self.length)
        if self.n_symbols < 2:
            raise ValueError(f"repeat: n_symbols must be >= 2, got {self.n_symbols}")
        self.vocab_size = self.n_symbols + 1  # symbols 0..K-1, delimiter K
        self.n_outputs = self.n_symbols

    @property
    def delimiter(self) -> int:
        return self.n_symbols

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError("repeat has a fixed sequence length (the task's `length`); pass length=None")
        P = self.length
        x = torch.randint(0, self.n_symbols, (n, P), generator=generator)
        inputs = torch.cat([x, torch.full((n, 1), self.delimiter), x[:, :-1]], 1)
        targets = torch.zeros(n, 2 * P, dtype=torch.long)
        targets[:, P:] = x
        mask = torch.zeros(n, 2 * P, dtype=torch.bool)
        mask[:, P:] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}
