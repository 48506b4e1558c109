"""The task interface: seeded generators of batches with a metric.

A task is registered under kind ``"task"`` and produces batches as dicts:

- ``inputs``: ``LongTensor (n, L)`` of token ids in ``[0, vocab_size)``, or ``FloatTensor
  (n, L, d_input)`` for continuous inputs;
- ``targets``: ``LongTensor (n, L)`` class ids in ``[0, n_outputs)`` (``output="classes"``),
  ``LongTensor (n, L)`` input positions (``output="pointer"``), or ``FloatTensor (n, L, n_outputs)``
  (``output="regression"``);
- ``mask``: ``BoolTensor (n, L)``, true where a target counts for loss and metric.

Train and test data come from disjoint seed ranges (:func:`split_seed`), so a test example is
never a training example drawn with the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

TRAIN_SEED_BASE = 0
TEST_SEED_BASE = 1_000_000_007


def split_seed(seed: int, split: str) -> int:
    """Map a user seed into the disjoint seed range of ``split`` ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if seed < 0 or seed >= TEST_SEED_BASE:
        raise ValueError(f"seed must lie in [0, {TEST_SEED_BASE}), got {seed}")
    return seed + (TEST_SEED_BASE if split == "test" else TRAIN_SEED_BASE)


@dataclass
class Task:
    """Base class. Subclasses set the fields and implement :meth:`generate`."""

    vocab_size: int | None = None  # token inputs; None for continuous inputs
    d_input: int | None = None  # continuous inputs
    n_outputs: int = 2
    output: str = "classes"  # "classes" | "pointer" | "regression"
    metric: str = "accuracy"  # "accuracy" (masked per-token) | "mse" | "log_loss"

    # Tasks with a length knob override these with ranges (e.g. ``range(1, 41)``, ``range(41, 101)``).
    train_lengths = None
    test_lengths = None

    def generate(self, n: int, length: int | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def pick_length(self, length: int | None, generator: torch.Generator) -> int | None:
        """``length`` checked, or (when None) one length drawn uniformly from ``train_lengths``."""
        if length is None:
            if self.train_lengths is None:
                return None
            lengths = list(self.train_lengths)
            return lengths[int(torch.randint(len(lengths), (1,), generator=generator))]
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"{type(self).__name__}: length must be a positive int, got {length!r}")
        if self.train_lengths is None:
            raise ValueError(f"{type(self).__name__} has no length knob; pass length=None")
        lo = min(min(self.train_lengths), min(self.test_lengths or self.train_lengths))
        if length < lo:
            raise ValueError(f"{type(self).__name__}: length must be >= {lo}, got {length}")
        return length

    def sample(self, n: int, *, seed: int, split: str = "train", length: int | None = None):
        """``n`` examples drawn with ``seed`` from the ``split`` seed range."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        g = torch.Generator().manual_seed(split_seed(seed, split))
        return self.generate(n, length, g)


def python_rng(generator: torch.Generator) -> random.Random:
    """A ``random.Random`` seeded from ``generator`` (for big-integer or recursive generators)."""
    return random.Random(int(torch.randint(0, 2**62, (1,), generator=generator)))


def check_ints(task: str, minimum: int = 1, **values) -> None:
    """Raise ``ValueError`` unless every keyword value is an int ``>= minimum``."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"{task}: {name} must be an int >= {minimum}, got {v!r}")
