"""SLED: autoregressive modelling of continuous latents with the energy distance (no quantizer).

Paper: "Efficient Speech Language Modeling via Energy Distance in Continuous Latent Space"
(SLED, arXiv 2505.13181). For a target frame ``y`` and a model distribution ``P`` the generalised
energy distance (up to the ``y``-only term) is the energy score

    L(P, y) = E_{X~P} ||X - y||^beta - 1/2 E_{X,X'~P} ||X - X'||^beta,   0 < beta < 2,

a strictly proper scoring rule: its expectation over ``y ~ Q`` is minimised only by ``P = Q``.
With ``m >= 2`` samples ``x_1..x_m`` drawn from the model (a head fed the backbone state and
fresh noise) the unbiased estimate is

    mean_i ||x_i - y||^beta - 1 / (2 m (m - 1)) sum_{i != j} ||x_i - x_j||^beta.

:class:`SLED` is a causal backbone over the latent frames with a noise-injected MLP head; sampling is
autoregressive, one head draw per frame. The backbone (:func:`make_backbone`) is a GRU (``"gru"``, the
default) or a causal transformer (``"transformer"``: seqlab's own :class:`~seqlab.models.SequenceModel`
with causal attention blocks, RoPE positions, pre-norm residual blocks, and a KV cache for sampling) -- the
paper's backbone is a causal transformer. Both expose ``features(x) -> h`` (parallel, for training) and
``backbone(x, state) -> (h, state)`` (chunked / one frame at a time, for sampling); the hidden state at frame
``t`` depends on frames ``<= t`` only.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.generate.data import check_sequences
from seqlab.models.sequence_model import SequenceModel
from seqlab.registry import Paper, register

SLED_TITLE = "Efficient Speech Language Modeling via Energy Distance in Continuous Latent Space"
SLED_PAPER = Paper(SLED_TITLE, "2505.13181")


def _norm(v: torch.Tensor, beta: float) -> torch.Tensor:
    # sqrt(|v|^2 + tiny) keeps the gradient finite when two samples coincide
    return (v.pow(2).sum(-1) + 1e-12).pow(beta / 2)


def energy_distance_loss(samples: torch.Tensor, target: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Mean energy score of ``samples (m, ..., d)`` (``m >= 2`` model draws) against ``target (..., d)``."""
    if not isinstance(samples, torch.Tensor) or samples.dim() < 2 or samples.shape[0] < 2:
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"energy_distance_loss needs samples (m >= 2, ..., d), got {shape}")
    if samples.shape[1:] != target.shape:
        raise ValueError(
            f"energy_distance_loss: samples {tuple(samples.shape)} must be (m, *target.shape), "
            f"target {tuple(target.shape)}"
        )
    if not 0 < beta < 2:
        raise ValueError(f"beta must lie in (0, 2) for a strictly proper score, got {beta}")
    m = samples.shape[0]
    fit = _norm(samples - target[None], beta).mean(0)
    pair = _norm(samples[:, None] - samples[None, :], beta)  # (m, m, ...), diagonal ~ 0
    off = ~torch.eye(m, dtype=torch.bool).view(m, m, *([1] * (pair.dim() - 2)))
    spread = (pair * off).sum((0, 1)) / (m * (m - 1))
    return (fit - 0.5 * spread).mean()


BACKBONES = ("gru", "transformer")


class _Backbone(nn.Module):
    """Input projection + GRU: ``(B, T, d_in) -> (B, T, hidden)``, steppable with a state."""

    def __init__(self, d_in: int, hidden: int, n_layers: int = 1):
        super().__init__()
        self.inp = nn.Linear(d_in, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=n_layers, batch_first=True)

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        return self.rnn(torch.tanh(self.inp(x)), state)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)[0]


class TransformerBackbone(nn.Module):
    """Causal transformer ``(B, T, d_in) -> (B, T, hidden)``: a :class:`~seqlab.models.SequenceModel` of
    ``n_layers`` pre-norm blocks (causal multi-head attention with RoPE, then an MLP), continuous inputs
    through a linear embedding, final norm and a linear output of width ``hidden``.

    ``features(x)``: the parallel pass (training). ``forward(x, state)``: the chunked pass with the
    attention KV cache (``state`` None starts one), so feeding a prefix then one frame at a time equals
    the parallel pass on the whole sequence.
    """

    def __init__(self, d_in: int, hidden: int, n_layers: int = 2, n_heads: int = 4):
        super().__init__()
        if not isinstance(n_heads, int) or n_heads < 1 or hidden % n_heads:
            raise ValueError(
                f"the transformer backbone needs n_heads dividing hidden={hidden}, got {n_heads!r}"
            )
        self.net = SequenceModel(
            mixer="attention",
            d_model=hidden,
            n_layers=n_layers,
            d_input=d_in,
            n_outputs=hidden,
            mixer_cfg={"n_heads": n_heads, "causal": True},
        )

    def forward(self, x: torch.Tensor, state=None):
        return self.net.forward_with_state(x, state)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_backbone(kind: str, d_in: int, hidden: int, n_layers: int = 1, n_heads: int = 4) -> nn.Module:
    """The causal backbone of SLED and of the RVQ-token model: ``"gru"`` or ``"transformer"``."""
    if kind not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {kind!r}")
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be an int >= 1, got {n_layers!r}")
    if kind == "gru":
        return _Backbone(d_in, hidden, n_layers)
    return TransformerBackbone(d_in, hidden, n_layers, n_heads)


@register("generator", "sled", implements=SLED_PAPER, used_by=[SLED_TITLE], family="continuous-ar")
class SLED(nn.Module):
    """Energy-distance autoregressive model of ``dim``-channel latent frames (causal backbone + noisy MLP
    head); ``backbone`` "gru" (default, 1 layer) or "transformer" (``n_layers`` blocks, ``n_heads`` heads)."""

    def __init__(
        self,
        dim: int,
        hidden: int = 64,
        noise_dim: int = 16,
        n_samples: int = 2,
        beta: float = 1.0,
        backbone: str = "gru",
        n_layers: int = 1,
        n_heads: int = 4,
    ):
        super().__init__()
        if n_samples < 2:
            raise ValueError(f"SLED needs n_samples >= 2 model draws per step, got {n_samples}")
        self.dim, self.noise_dim, self.n_samples, self.beta = dim, noise_dim, n_samples, beta
        self.backbone_kind = backbone
        self.backbone = make_backbone(backbone, dim, hidden, n_layers, n_heads)
        self.head = nn.Sequential(
            nn.Linear(hidden + noise_dim, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, dim),
        )

    def draw(self, h: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``m`` head samples per state: ``h (..., hidden) -> (m, ..., dim)``."""
        eps = torch.randn((m, *h.shape[:-1], self.noise_dim), generator=generator)
        return self.head(torch.cat([h.expand(m, *h.shape), eps], -1))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Energy-distance loss of next-frame prediction on ``x (B, T, dim)``."""
        check_sequences(x, "SLED.loss", self.dim)
        if x.shape[1] < 2:
            raise ValueError("SLED.loss needs sequences of length >= 2")
        h = self.backbone.features(x[:, :-1])
        return energy_distance_loss(self.draw(h, self.n_samples, generator), x[:, 1:], self.beta)

    @torch.no_grad()
    def predictive(self, x: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``m`` draws of every next frame given the true past: ``(m, B, T - 1, dim)``."""
        check_sequences(x, "SLED.predictive", self.dim)
        h = self.backbone.features(x[:, :-1])
        return self.draw(h, m, generator)

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, steps: int, generator: torch.Generator | None = None):
        """Sample ``steps`` frames after ``prefix (B, P, dim)`` autoregressively: ``(B, steps, dim)``."""
        check_sequences(prefix, "SLED.generate", self.dim)
        if not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be a positive int, got {steps!r}")
        h, state = self.backbone(prefix)
        out = []
        for _ in range(steps):
            frame = self.draw(h[:, -1:], 1, generator)[0]
            out.append(frame)
            h, state = self.backbone(frame, state)
        return torch.cat(out, 1)
