"""Sorting a set of numbers with pointer outputs.

"Pointer Networks" (arXiv 1506.03134) and "Order Matters: Sequence to sequence for sets"
(arXiv 1511.06391): the input is a set of ``L`` reals ``x_1..x_L ~ U[0, 1)`` (``d_input = 1``), and
the target at output step ``i`` is the input position of the ``i``-th smallest number,

    y_i = argsort(x)_i,

so the output is a permutation of the input positions (``output="pointer"``; logits of shape
``(batch, L, L)``, e.g. from the ``pointer_network`` model). Training sets have ``min_length..
max_train_length`` elements, test sets ``max_train_length+1..max_test_length``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


@register(
    "task",
    "sorting",
    implements=Paper("Pointer Networks", "1506.03134"),
    used_by=["Pointer Networks", "Order Matters: Sequence to sequence for sets"],
    description="sort a set of reals; target i = position of the i-th smallest (pointer output)",
    metric="accuracy",
)
@dataclass
class Sorting(Task):
    """Targets are the positions of the inputs in increasing order."""

    min_length: int = 2
    max_train_length: int = 10
    max_test_length: int = 20
    d_input: int = field(default=1, init=False)
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="pointer", init=False)
    metric: str = field(default="accuracy", init=False)

    def __post_init__(self):
        check_ints("sorting", min_length=self.min_length, max_train_length=self.max_train_length)
        if not self.min_length <= self.max_train_length < self.max_test_length:
            raise ValueError(
                f"sorting needs min_length <= max_train_length < max_test_length, got "
                f"{self.min_length}, {self.max_train_length}, {self.max_test_length}"
            )
        self.n_outputs = self.max_test_length

    @property
    def train_lengths(self):
        return range(self.min_length, self.max_train_length + 1)

    @property
    def test_lengths(self):
        return range(self.max_train_length + 1, self.max_test_length + 1)

    def generate(self, n, length, generator):
        L = self.pick_length(length, generator)
        x = torch.rand(n, L, 1, generator=generator)
        return {
            "inputs": x,
            "targets": x[..., 0].argsort(dim=1, stable=True),
            "mask": torch.ones(n, L, dtype=torch.bool),
        }
