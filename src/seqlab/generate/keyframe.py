"""Keyframe-then-interpolate generation of long continuous sequences (two stages).

Paper: "KeyFace: Expressive Audio-Driven Facial Animation for Long Sequences via KeyFrame
Interpolation" (arXiv 2503.01715). Stage 1 generates keyframes at a low frame rate -- every
``k``-th frame ``x_0, x_k, x_2k, ...`` -- autoregressively; stage 2 fills each gap from its two
bounding keyframes:

    (x_{jk+1}, ..., x_{jk+k-1}) = g(x_{jk}, x_{(j+1)k}).

A length-``n`` continuation therefore takes ``n / k`` autoregressive steps instead of ``n``, and an
interpolated frame never feeds back into later frames, so errors accumulate over ``k`` times fewer
steps. The paper's stages are diffusion models conditioned on audio; here both stages are
deterministic regressors (a GRU keyframe model, an MLP interpolator) on generated trajectories,
compared with :class:`DirectAR`, the same GRU stepping every frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.generate.data import check_sequences
from seqlab.generate.energy import _Backbone
from seqlab.registry import Paper, register

KEYFACE_TITLE = (
    "KeyFace: Expressive Audio-Driven Facial Animation for Long Sequences via KeyFrame Interpolation"
)
KEYFACE_PAPER = Paper(KEYFACE_TITLE, "2503.01715")


def _check_steps(steps, horizon: int, who: str) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{who}: steps must be a positive int, got {steps!r}")
    if steps > horizon:
        raise ValueError(
            f"{who}: {steps} steps requested, past the model's horizon of {horizon} frames "
            "(raise horizon= explicitly to extrapolate further)"
        )


class DirectAR(nn.Module):
    """Frame-by-frame regression baseline: a GRU predicting ``x_{t+1}`` from ``x_{<=t}`` (MSE)."""

    def __init__(self, dim: int, hidden: int = 64, horizon: int = 1024):
        super().__init__()
        self.dim, self.horizon = dim, horizon
        self.backbone = _Backbone(dim, hidden)
        self.out = nn.Linear(hidden, dim)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        check_sequences(x, f"{type(self).__name__}.loss", self.dim)
        if x.shape[1] < 2:
            raise ValueError(f"{type(self).__name__}.loss needs sequences of length >= 2")
        h, _ = self.backbone(x[:, :-1])
        return F.mse_loss(x[:, :-1] + self.out(h), x[:, 1:])

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` frames after ``prefix (B, P, dim)``, each fed back: ``(B, steps, dim)``."""
        check_sequences(prefix, f"{type(self).__name__}.generate", self.dim)
        _check_steps(steps, self.horizon, f"{type(self).__name__}.generate")
        h, state = self.backbone(prefix)
        last, out = prefix[:, -1:], []
        for _ in range(steps):
            last = last + self.out(h[:, -1:])
            out.append(last)
            h, state = self.backbone(last, state)
        return torch.cat(out, 1)


class Interpolator(nn.Module):
    """Stage 2: the ``k - 1`` frames between two keyframes, ``g(a, b) = lerp(a, b) + MLP(a, b)``."""

    def __init__(self, dim: int, k: int, hidden: int = 64):
        super().__init__()
        self.dim, self.k = dim, k
        self.net = nn.Sequential(
            nn.Linear(2 * dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, (k - 1) * dim),
        )
        self.register_buffer("frac", torch.arange(1, k, dtype=torch.float32) / k)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a, b (..., dim)`` -> ``(..., k - 1, dim)``."""
        lerp = a[..., None, :] + self.frac[:, None] * (b - a)[..., None, :]
        return lerp + self.net(torch.cat([a, b], -1)).view(*a.shape[:-1], self.k - 1, self.dim)


@register(
    "generator", "keyframe-interpolate", implements=KEYFACE_PAPER, used_by=[KEYFACE_TITLE], family="two-stage"
)
class KeyframeInterpolator(nn.Module):
    """Two stages: a keyframe model on every ``k``-th frame, an interpolator between keyframes."""

    def __init__(self, dim: int, k: int = 4, hidden: int = 64, horizon: int = 1024):
        super().__init__()
        if not isinstance(k, int) or k < 2:
            raise ValueError(f"keyframe stride k must be an int >= 2, got {k!r}")
        self.dim, self.k, self.horizon = dim, k, horizon
        self.keyframes = DirectAR(dim, hidden, horizon=horizon)
        self.interpolator = Interpolator(dim, k, hidden)

    def keyframe_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Stage 1 loss: next-keyframe MSE on ``x[:, ::k]``."""
        return self.keyframes.loss(x[:, :: self.k])

    def interpolation_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Stage 2 loss: MSE of the in-between frames given the true keyframes."""
        check_sequences(x, "KeyframeInterpolator.interpolation_loss", self.dim)
        n = (x.shape[1] - 1) // self.k
        if n < 1:
            raise ValueError(f"interpolation_loss needs length >= k + 1 = {self.k + 1}, got {x.shape[1]}")
        key = x[:, : n * self.k + 1 : self.k]
        gaps = x[:, 1 : n * self.k + 1].reshape(x.shape[0], n, self.k, self.dim)[:, :, : self.k - 1]
        return F.mse_loss(self.interpolator(key[:, :-1], key[:, 1:]), gaps)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        return self.keyframe_loss(x) + self.interpolation_loss(x)

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, steps: int) -> torch.Tensor:
        """``steps`` frames after ``prefix (B, P, dim)``; ``P - 1`` must be a multiple of ``k`` so the
        last prefix frame is a keyframe. Keyframes first, then every gap: ``(B, steps, dim)``."""
        check_sequences(prefix, "KeyframeInterpolator.generate", self.dim)
        _check_steps(steps, self.horizon, "KeyframeInterpolator.generate")
        if (prefix.shape[1] - 1) % self.k:
            raise ValueError(
                f"prefix length - 1 must be a multiple of k = {self.k} (last prefix frame a keyframe), "
                f"got length {prefix.shape[1]}"
            )
        n_key = -(-steps // self.k)
        keys = self.keyframes.generate(prefix[:, :: self.k], n_key)
        bounds = torch.cat([prefix[:, -1:], keys], 1)  # (B, n_key + 1, dim)
        gaps = self.interpolator(bounds[:, :-1], bounds[:, 1:])  # (B, n_key, k - 1, dim)
        frames = torch.cat([gaps, keys[:, :, None]], 2).reshape(prefix.shape[0], n_key * self.k, self.dim)
        return frames[:, :steps]
