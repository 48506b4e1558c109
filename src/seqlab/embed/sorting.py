"""The sequence-sorting pretext task: an Order Prediction Network over shuffled windows of a sequence.

"Unsupervised Representation Learning by Sorting Sequences" (Lee, Huang, Singh, Yang; arXiv 1708.01246).
``k`` windows are cut from a sequence in temporal order and shuffled by a permutation ``pi``; the network
predicts which permutation it sees. A sequence played backwards is as plausible as forwards, so ``pi``
and its reverse are one class: ``k! / 2`` classes (12 for ``k = 4``), :func:`order_classes`.

Architecture (the paper's OPN, with a 1-D convolutional encoder instead of CaffeNet):

    f_i = E(window_i)                                       (siamese: one encoder for all windows)
    h_ij = ReLU(W_p [f_i ; f_j] + b_p)      for every pair i < j     (pairwise feature extraction)
    logits = W_o [h_12 ; h_13 ; ... ; h_{k-1,k}] + b_o                 (order prediction)

trained by cross-entropy on fresh shuffles of unlabelled sequences. The encoder ``E`` is then frozen and
linearly probed (:func:`seqlab.embed.trajectories.frozen_probe`).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from seqlab.embed.trajectories import ConvSequenceEncoder, adam_steps
from seqlab.registry import Paper, register

SORTING_PAPER = Paper("Unsupervised Representation Learning by Sorting Sequences", "1708.01246")

__all__ = ["OrderPredictionNetwork", "order_classes", "permutation_class", "sorting_batch"]


def order_classes(k: int) -> list[tuple[int, ...]]:
    """The ``k! / 2`` permutations of ``range(k)`` that come before their reverse lexicographically."""
    if k < 2:
        raise ValueError(f"sorting needs k >= 2 windows, got {k}")
    return [p for p in itertools.permutations(range(k)) if p < p[::-1]]


def permutation_class(perm, classes: list[tuple[int, ...]]) -> int:
    """Class index of ``perm``: the permutation and its reverse share one class."""
    p = tuple(int(i) for i in perm)
    key = min(p, p[::-1])
    try:
        return classes.index(key)
    except ValueError:
        raise ValueError(f"{p} is not a permutation of range({len(classes[0])})") from None


def sorting_batch(x: torch.Tensor, k: int, window: int, gap: int, generator: torch.Generator):
    """Cut ``k`` windows of ``window`` steps (``gap`` steps apart) from each sequence of ``x`` (B, L, C) at a
    random start and shuffle them: ``(windows (B, k, window, C), labels (B,), perms (B, k))``.
    ``windows[b, i]`` is temporal window ``perms[b, i]``; the label is the class of ``perms[b]``."""
    B, L, _ = x.shape
    span = k * window + (k - 1) * gap
    if span > L:
        raise ValueError(
            f"{k} windows of {window} steps with gap {gap} need {span} steps, sequences have {L}"
        )
    classes = order_classes(k)
    labels = torch.randint(len(classes), (B,), generator=generator)
    flip = torch.rand(B, generator=generator) < 0.5
    starts = torch.randint(L - span + 1, (B,), generator=generator)
    perms = torch.tensor([classes[c] for c in labels.tolist()])
    perms = torch.where(flip[:, None], perms.flip(1), perms)
    offs = starts[:, None] + perms * (window + gap)  # (B, k) start of each shown window
    idx = offs[:, :, None] + torch.arange(window)  # (B, k, window)
    wins = x[torch.arange(B)[:, None, None], idx]  # (B, k, window, C)
    return wins, labels, perms


@register("embedder", "sorting_opn", implements=SORTING_PAPER)
class OrderPredictionNetwork(nn.Module):
    """Siamese window encoder + pairwise features + order classifier over ``k! / 2`` classes."""

    def __init__(self, channels: int, k: int = 4, hidden: int = 32, d: int = 32, pair: int = 64):
        super().__init__()
        self.k = k
        self.classes = order_classes(k)
        self.encoder = ConvSequenceEncoder(channels, hidden, d)
        self.pairs = list(itertools.combinations(range(k), 2))
        self.pair = nn.Linear(2 * d, pair)
        self.head = nn.Linear(pair * len(self.pairs), len(self.classes))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """``(B, k, W, C)`` shuffled windows -> order logits ``(B, k! / 2)``."""
        if windows.dim() != 4 or windows.shape[1] != self.k:
            raise ValueError(f"expected (B, {self.k}, W, C) windows, got {tuple(windows.shape)}")
        B, k, W, C = windows.shape
        f = self.encoder(windows.reshape(B * k, W, C)).reshape(B, k, -1)
        i, j = zip(*self.pairs)
        h = torch.relu(self.pair(torch.cat([f[:, list(i)], f[:, list(j)]], dim=2)))  # (B, pairs, pair)
        return self.head(h.reshape(B, -1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sequence vectors ``(N, d)`` of the (frozen) window encoder."""
        return self.encoder.encode(x)

    def fit(
        self,
        sample,
        steps: int = 400,
        batch: int = 32,
        window: int = 12,
        gap: int = 2,
        lr: float = 3e-3,
        seed: int = 0,
    ) -> list[float]:
        """Train on fresh shuffles: ``sample(n, generator) -> (n, L, C)`` unlabelled sequences.
        Returns the loss per step."""

        def batch_loss(g):
            wins, labels, _ = sorting_batch(sample(batch, g), self.k, window, gap, g)
            return nn.functional.cross_entropy(self(wins), labels)

        return adam_steps(self, batch_loss, steps, lr, seed)

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, window: int = 12, gap: int = 2, seed: int = 0) -> float:
        """Order-prediction accuracy on shuffles of the sequences ``x``."""
        wins, labels, _ = sorting_batch(x, self.k, window, gap, torch.Generator().manual_seed(seed))
        return float((self(wins).argmax(1) == labels).float().mean())
