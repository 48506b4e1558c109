"""Smooth multichannel trajectories with a class label, a small convolutional sequence encoder, and the
frozen-encoder linear probe shared by the sequence pretext tasks (sorting, continuity).

Data (:class:`TrajectoryWorld`): class ``k`` owns ``n_osc`` angular frequencies ``w_{k,j}`` (radians per
step, drawn once per world). A sample of class ``k`` is

    z_t = [a_j sin(w'_{k,j} t + phi_j), a_j cos(w'_{k,j} t + phi_j)]_j ,    x_t = M z_t + sigma eps_t

with random phases ``phi_j``, amplitudes ``a_j`` in [0.5, 1.5], a per-sample frequency jitter
``w' = w (1 + u)``, ``|u| <= jitter``, a fixed mixing matrix ``M`` (channels x 2 n_osc) and Gaussian noise.
The label is only in the dynamics (the frequencies), not in any single value: a downstream probe has
to read the temporal structure. Pretext tasks use the same world without labels.

:class:`ConvSequenceEncoder`: two same-padded 1-D convolutions (GELU) give per-step features
``(B, T, hidden)`` (:meth:`steps`); their mean over time through a linear layer is the sequence vector
``(B, d)``.

:func:`frozen_probe` trains nothing in the encoder: a ridge linear probe
(:func:`seqlab.probe.layers.probe_accuracy`) on its features of labelled windows, train/test split given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from seqlab.probe.layers import probe_accuracy

__all__ = ["ConvSequenceEncoder", "TrajectoryWorld", "adam_steps", "frozen_probe", "make_world"]


@dataclass
class TrajectoryWorld:
    freqs: torch.Tensor  # (n_classes, n_osc) radians per step
    mixing: torch.Tensor  # (channels, 2 n_osc)
    noise: float = 0.05
    jitter: float = 0.05

    @property
    def n_classes(self) -> int:
        return self.freqs.shape[0]

    @property
    def channels(self) -> int:
        return self.mixing.shape[0]

    def sample(self, n: int, length: int, generator: torch.Generator, labels: torch.Tensor | None = None):
        """``(x, y)``: ``n`` trajectories ``(n, length, channels)`` and their classes ``(n,)``."""
        if n < 1 or length < 1:
            raise ValueError(f"sample needs n >= 1 and length >= 1, got n={n}, length={length}")
        y = (
            torch.randint(self.n_classes, (n,), generator=generator)
            if labels is None
            else torch.as_tensor(labels).long()
        )
        if y.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {tuple(y.shape)}")
        k = self.freqs.shape[1]
        w = self.freqs[y] * (1 + self.jitter * (2 * torch.rand(n, k, generator=generator) - 1))
        phase = 2 * math.pi * torch.rand(n, k, generator=generator)
        amp = 0.5 + torch.rand(n, k, generator=generator)
        t = torch.arange(length, dtype=torch.float32)
        ang = w[:, None, :] * t[None, :, None] + phase[:, None, :]  # (n, T, k)
        z = torch.cat([amp[:, None] * torch.sin(ang), amp[:, None] * torch.cos(ang)], dim=2)
        x = z @ self.mixing.T + self.noise * torch.randn(n, length, self.channels, generator=generator)
        return x, y


def make_world(
    n_classes: int = 4,
    channels: int = 6,
    n_osc: int = 2,
    low: float = 0.1,
    high: float = 0.6,
    noise: float = 0.05,
    seed: int = 0,
) -> TrajectoryWorld:
    """A world of ``n_classes`` dynamics: frequencies uniform in ``[low, high]`` rad/step, Gaussian mixing."""
    if n_classes < 2 or channels < 1 or n_osc < 1:
        raise ValueError(
            f"make_world needs n_classes >= 2, channels >= 1, n_osc >= 1; got {n_classes, channels, n_osc}"
        )
    if not 0 < low < high <= math.pi:
        raise ValueError(f"need 0 < low < high <= pi, got low={low}, high={high}")
    g = torch.Generator().manual_seed(seed)
    freqs = low + (high - low) * torch.rand(n_classes, n_osc, generator=g)
    mixing = torch.randn(channels, 2 * n_osc, generator=g) / math.sqrt(2 * n_osc)
    return TrajectoryWorld(freqs, mixing, noise)


class ConvSequenceEncoder(nn.Module):
    """Per-step features by two same-padded convolutions; the sequence vector is their mean, projected."""

    def __init__(self, channels: int, hidden: int = 32, d: int = 32, kernel: int = 5):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (same padding), got {kernel}")
        self.channels, self.hidden, self.d = channels, hidden, d
        self.conv1 = nn.Conv1d(channels, hidden, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.out = nn.Linear(hidden, d)

    def steps(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, channels)`` -> per-step features ``(B, T, hidden)``."""
        if x.dim() != 3 or x.shape[2] != self.channels:
            raise ValueError(f"expected (B, T, {self.channels}) sequences, got {tuple(x.shape)}")
        h = nn.functional.gelu(self.conv1(x.transpose(1, 2)))
        return nn.functional.gelu(self.conv2(h)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.steps(x).mean(1))

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self(torch.as_tensor(x, dtype=torch.float32))


@torch.no_grad()
def frozen_probe(
    encoder: ConvSequenceEncoder, x: torch.Tensor, y: torch.Tensor, n_train: int, ridge: float = 1.0
):
    """Ridge-probe test accuracy of ``encoder``'s frozen features: the first ``n_train`` rows train."""
    if not 2 <= n_train < len(x):
        raise ValueError(f"n_train must be in [2, {len(x)}), got {n_train}")
    feats = encoder.encode(x).double()
    split = (torch.arange(n_train), torch.arange(n_train, len(x)))
    return probe_accuracy(feats, y, ridge=ridge, split=split)


def adam_steps(module: nn.Module, batch_loss, steps: int, lr: float, seed: int) -> list[float]:
    """``steps`` Adam updates of ``module`` on ``batch_loss(generator) -> scalar loss`` (fresh data each
    step from one seeded generator); the loss per step."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        loss = batch_loss(g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history
