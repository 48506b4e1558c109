"""Generated smooth multichannel trajectories: sums of sinusoids with shared frequencies.

Each channel ``c`` of a sequence is ``x_t[c] = sum_j a_j sin(w_{c,j} t + phi_j) + noise``: the
frequencies ``w`` are drawn once per data set (from ``freq_seed``), amplitudes and phases per
sequence. A noise-free channel with ``J`` frequencies obeys the order-``2J`` linear recurrence of
its sinusoids, so the continuation of a long enough prefix is determined.
"""

from __future__ import annotations

import math

import torch


def check_sequences(x: torch.Tensor, who: str, dim: int | None = None) -> None:
    """Raise a clear error unless ``x`` is a finite float tensor ``(batch, length, dim)``."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who} expects a float tensor (batch, length, dim), got {shape}")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{who} expects last dimension {dim}, got {x.shape[-1]}")
    if x.shape[1] < 1:
        raise ValueError(f"{who} expects at least one frame, got length 0")
    if not torch.isfinite(x).all():
        raise ValueError(f"{who}: the sequences contain NaN or inf; clean them first (nothing is dropped)")


def sinusoid_trajectories(
    n: int,
    length: int,
    channels: int = 4,
    n_freqs: int = 2,
    seed: int = 0,
    freq_seed: int | None = None,
    noise: float = 0.0,
    max_freq: float = 0.6,
) -> torch.Tensor:
    """``(n, length, channels)`` sums of ``n_freqs`` sinusoids per channel, unit-scale amplitude."""
    for name, v in (("n", n), ("length", length), ("channels", channels), ("n_freqs", n_freqs)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    gf = torch.Generator().manual_seed(seed if freq_seed is None else freq_seed)
    freqs = 0.05 + (max_freq - 0.05) * torch.rand(channels, n_freqs, generator=gf)
    g = torch.Generator().manual_seed(10_000 + seed)
    amp = (0.5 + torch.rand(n, channels, n_freqs, generator=g)) / math.sqrt(n_freqs)
    phase = 2 * math.pi * torch.rand(n, channels, n_freqs, generator=g)
    t = torch.arange(length, dtype=torch.float32)[None, :, None, None]
    x = (amp[:, None] * torch.sin(freqs[None, None] * t + phase[:, None])).sum(-1)
    if noise:
        x = x + noise * torch.randn(x.shape, generator=g)
    return x
