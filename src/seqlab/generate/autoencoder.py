"""Continuous latents from a small frame autoencoder trained here, for SLED and the RVQ-token model.

SLED (arXiv 2505.13181) models the continuous latents of a pretrained audio autoencoder. Here the
"audio" is generated (:func:`tone_waveforms`: a few decaying partials with random pitch, phase and
onset, plus noise) and the autoencoder is trained on it: a waveform of ``T * hop`` samples is cut
into ``T`` frames of ``hop`` samples; the encoder maps each frame, with its two neighbours for
context, to a ``latent``-dimensional vector through a strided convolution,

    z_t = W_2 gelu(conv_{kernel 3 hop, stride hop}(x)_t),

and the decoder maps every latent frame back to its ``hop`` samples (``x_hat_t = MLP(z_t)``);
trained by MSE. Frozen, it turns waveforms into ``(n, T, latent)`` latent sequences, standardised
with the training latents' statistics.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def tone_waveforms(n: int, frames: int, hop: int = 16, seed: int = 0, partials: int = 3,
                   noise: float = 0.02) -> torch.Tensor:
    """``(n, frames * hop)`` decaying harmonic tones with random pitch, phase and onset."""
    for name, v in (("n", n), ("frames", frames), ("hop", hop), ("partials", partials)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    g = torch.Generator().manual_seed(seed)
    length = frames * hop
    t = torch.arange(length, dtype=torch.float32)[None, None]
    f0 = (0.02 + 0.06 * torch.rand(n, 1, 1, generator=g)) * torch.arange(1, partials + 1)[None, :, None]
    phase = 2 * math.pi * torch.rand(n, partials, 1, generator=g)
    amp = torch.rand(n, partials, 1, generator=g) / torch.arange(1, partials + 1)[None, :, None]
    onset = torch.randint(0, length // 2, (n, 1, 1), generator=g).float()
    decay = torch.exp(-(t - onset).clamp_min(0) / (length / 3)) * (t >= onset)
    wave = (amp * decay * torch.sin(2 * math.pi * f0 * t + phase)).sum(1)
    return wave + noise * torch.randn(wave.shape, generator=g)


class FrameAutoencoder(nn.Module):
    """Waveform ``(B, T * hop)`` <-> latent frames ``(B, T, latent)``."""

    def __init__(self, hop: int = 16, latent: int = 3, width: int = 64):
        super().__init__()
        self.hop, self.latent = hop, latent
        self.conv = nn.Conv1d(1, width, kernel_size=3 * hop, stride=hop, padding=hop)
        self.to_latent = nn.Linear(width, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, width), nn.GELU(), nn.Linear(width, hop))

    def _check(self, wave: torch.Tensor) -> None:
        if not isinstance(wave, torch.Tensor) or wave.dim() != 2 or wave.shape[1] % self.hop:
            shape = tuple(wave.shape) if isinstance(wave, torch.Tensor) else type(wave).__name__
            raise ValueError(f"FrameAutoencoder expects waveforms (batch, T * {self.hop}), got {shape}")
        if not torch.isfinite(wave).all():
            raise ValueError("FrameAutoencoder: the waveforms contain NaN or inf")

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        self._check(wave)
        h = nn.functional.gelu(self.conv(wave[:, None]))  # (B, width, T)
        return self.to_latent(h.transpose(1, 2))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).reshape(z.shape[0], -1)

    def loss(self, wave: torch.Tensor) -> torch.Tensor:
        return (self.decode(self.encode(wave)) - wave).pow(2).mean()
