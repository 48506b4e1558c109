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

    def generate(self, n: int, length: int | None, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def sample(self, n: int, *, seed: int, split: str = "train", length: int | None = None):
        """``n`` examples drawn with ``seed`` from the ``split`` seed range."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        g = torch.Generator().manual_seed(split_seed(seed, split))
        return self.generate(n, length, g)
