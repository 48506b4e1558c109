"""Streaming parity.

"Algorithm Development in Neural Networks: Insights from the Streaming Parity Task"
(arXiv 2507.09897): the input is a stream of bits ``b_1 b_2 ...`` and the label at every position
is the running parity

    y_t = (b_1 + ... + b_t) mod 2,

so a two-state automaton solves it at any length. Training uses lengths ``1..T`` and testing
``T+1..10T`` (``max_train_length``, ``max_test_length``), which measures infinite length
generalization.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


@register(
    "task",
    "streaming_parity",
    implements=Paper(
        "Algorithm Development in Neural Networks: Insights from the Streaming Parity Task", "2507.09897"
    ),
    used_by=["Algorithm Development in Neural Networks: Insights from the Streaming Parity Task"],
    description="running parity of a bit stream, labelled at every position; length generalization",
    metric="accuracy",
)
@dataclass
class StreamingParity(Task):
    """Label every position with the parity of the bits so far."""

    max_train_length: int = 32
    max_test_length: int = 320
    vocab_size: int = field(default=2, init=False)
    n_outputs: int = field(default=2, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="accuracy", init=False)

    def __post_init__(self):
        check_ints("streaming_parity", max_train_length=self.max_train_length)
        if self.max_test_length <= self.max_train_length:
            raise ValueError(
                f"streaming_parity: max_test_length must exceed max_train_length={self.max_train_length}, "
                f"got {self.max_test_length}"
            )

    @property
    def train_lengths(self):
        return range(1, self.max_train_length + 1)

    @property
    def test_lengths(self):
        return range(self.max_train_length + 1, self.max_test_length + 1)

    def generate(self, n, length, generator):
        L = self.pick_length(length, generator)
        bits = torch.randint(0, 2, (n, L), generator=generator)
        return {"inputs": bits, "targets": bits.cumsum(1) % 2, "mask": torch.ones(n, L, dtype=torch.bool)}
