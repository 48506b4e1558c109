"""Flow matching over latent sequences, Euler sampling, and naive vs fixed-point (ReNoise-style) inversion.

Paper: "High Fidelity Text-Guided Music Generation and Editing via Single-Stage Flow Matching"
(MelodyFlow, arXiv 2407.03648). With noise ``x_0 ~ N(0, I)`` and data ``x_1`` the straight path
``x_t = (1 - t) x_0 + t x_1`` has velocity ``x_1 - x_0``; a velocity field ``v(x_t, t, c)`` is fitted by

    L = E_{t, x_0, x_1} || v(x_t, t, c) - (x_1 - x_0) ||^2,

and sampled by Euler steps ``x_{t+h} = x_t + h v(x_t, t, c)`` from ``t = 0`` to ``1``. Editing inverts a
latent to its noise (under the source condition) and regenerates it under another condition.

* naive (DDIM-style) inversion reuses the velocity at the *current* point: ``x_{t-h} = x_t - h v(x_t, t)``,
  which only approximates the sampler's step (the velocity belongs at ``x_{t-h}``);
* the regularised inversion adapts ReNoise to flow matching: it solves ``z + h v(z, t - h) = x_t`` for
  ``z = x_{t-h}`` by fixed-point iterations ``z <- x_t - h v(z, t - h)``, averaging the velocity estimates
  of the later iterations, so that the Euler sampler maps the inverted noise back onto the input.

* the noise-regularised inversion (:func:`invert_regularised`) adds ReNoise's noise regulariser: the
  noise the velocity implies, ``eps = z - t v`` (on the straight path ``x_0 = x_t - t (x_1 - x_0)``), is
  pulled towards white Gaussian noise by gradient steps on the velocity estimate of every fixed-point
  iteration, ``v <- v - w grad_v R(z - t v)`` with :func:`noise_regulariser`
  ``R(eps) = KL(N(mean, var) || N(0, 1)) + sum_{k=1..K} rho_k(eps)^2`` (per sequence and channel:
  the moment-matched Gaussian KL plus the squared autocorrelations over time at lags ``1..K``).

The velocity field is a small transformer encoder over the frames with a sinusoidal time embedding and
a learned condition embedding (the stand-in for the text prompt).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.generate.data import check_sequences
from seqlab.registry import Paper, register

MELODYFLOW_TITLE = "High Fidelity Text-Guided Music Generation and Editing via Single-Stage Flow Matching"
MELODYFLOW_PAPER = Paper(MELODYFLOW_TITLE, "2407.03648")


def flow_matching_loss(velocity, x1: torch.Tensor, cond, generator: torch.Generator | None = None):
    """Conditional flow-matching loss of ``velocity(x_t, t, cond)`` on data ``x1 (B, T, D)``."""
    x0 = torch.randn(x1.shape, generator=generator)
    t = torch.rand(x1.shape[0], generator=generator)
    xt = (1 - t)[:, None, None] * x0 + t[:, None, None] * x1
    return (velocity(xt, t, cond) - (x1 - x0)).pow(2).mean()


def _check_steps(steps) -> None:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")


@torch.no_grad()
def euler_sample(velocity, x0: torch.Tensor, cond, steps: int) -> torch.Tensor:
    """Integrate ``dx/dt = v(x, t, cond)`` from ``t = 0`` (noise ``x0``) to ``1`` in ``steps`` Euler steps."""
    _check_steps(steps)
    x, h = x0, 1.0 / steps
    for i in range(steps):
        x = x + h * velocity(x, torch.full((x.shape[0],), i * h), cond)
    return x


@torch.no_grad()
def invert_naive(velocity, x1: torch.Tensor, cond, steps: int) -> torch.Tensor:
    """DDIM-style inversion: ``x_{t-h} = x_t - h v(x_t, t)`` from ``t = 1`` down to ``0``."""
    _check_steps(steps)
    x, h = x1, 1.0 / steps
    for i in range(steps, 0, -1):
        x = x - h * velocity(x, torch.full((x.shape[0],), i * h), cond)
    return x


@torch.no_grad()
def invert_fixed_point(velocity, x1: torch.Tensor, cond, steps: int, iters: int = 4, average: int = 2):
    """ReNoise-style inversion for flow matching: per step solve ``z + h v(z, t - h) = x_t`` by ``iters``
    fixed-point iterations started from the naive step; the last ``average`` velocity estimates are
    averaged for the final update."""
    _check_steps(steps)
    if not isinstance(iters, int) or iters < 1 or not 1 <= average <= iters:
        raise ValueError(
            f"need iters >= 1 and 1 <= average <= iters, got iters={iters!r} average={average!r}"
        )
    x, h = x1, 1.0 / steps
    for i in range(steps, 0, -1):
        t_prev = torch.full((x.shape[0],), (i - 1) * h)
        z = x - h * velocity(x, torch.full((x.shape[0],), i * h), cond)
        vs = []
        for _ in range(iters):
            v = velocity(z, t_prev, cond)
            vs.append(v)
            z = x - h * v
        x = x - h * torch.stack(vs[-average:]).mean(0)
    return x


def noise_regulariser(eps: torch.Tensor, max_lag: int = 4) -> torch.Tensor:
    """ReNoise's noise regulariser of ``eps (B, T, D)``: moment-matched Gaussian KL + autocorrelations.

    Per sequence and channel: ``0.5 (m^2 + s^2 - 1 - log s^2)`` with ``m, s^2`` the mean and variance over
    time, plus ``sum_k rho_k^2`` with ``rho_k = mean_t(e_t e_{t+k}) / mean_t(e_t^2)`` of the centred noise;
    averaged over sequences and channels. Zero in expectation only for white unit-variance noise.
    """
    if eps.dim() != 3 or eps.shape[1] < 2:
        raise ValueError(f"noise_regulariser expects (batch, T >= 2, dim), got {tuple(eps.shape)}")
    m, var = eps.mean(1), eps.var(1, unbiased=False).clamp_min(1e-8)
    kl = 0.5 * (m**2 + var - 1 - var.log())
    c = eps - m[:, None]
    lags = range(1, min(max_lag, eps.shape[1] - 1) + 1)
    ac = sum(((c[:, :-k] * c[:, k:]).mean(1) / var) ** 2 for k in lags)
    return (kl + ac).mean()


@torch.no_grad()
def invert_regularised(velocity, x1: torch.Tensor, cond, steps: int, iters: int = 4, average: int = 2,
                       weight: float = 0.1, max_lag: int = 4):
    """Fixed-point inversion (:func:`invert_fixed_point`) whose velocity estimates are regularised: each
    is moved by ``-weight * grad_v R(z - t v)`` so the noise it implies stays white (module docstring)."""
    _check_steps(steps)
    if not isinstance(iters, int) or iters < 1 or not 1 <= average <= iters:
        raise ValueError(
            f"need iters >= 1 and 1 <= average <= iters, got iters={iters!r} average={average!r}"
        )
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight}")
    x, h = x1, 1.0 / steps
    for i in range(steps, 0, -1):
        t_prev = (i - 1) * h
        tv = torch.full((x.shape[0],), t_prev)
        z = x - h * velocity(x, torch.full((x.shape[0],), i * h), cond)
        vs = []
        for _ in range(iters):
            v = velocity(z, tv, cond)
            if weight > 0 and t_prev > 0:
                with torch.enable_grad():
                    vg = v.detach().requires_grad_(True)
                    (grad,) = torch.autograd.grad(noise_regulariser(z - t_prev * vg, max_lag), vg)
                v = v - weight * grad * v.numel()  # per-element scale: R is a mean
            vs.append(v)
            z = x - h * v
        x = x - h * torch.stack(vs[-average:]).mean(0)
    return x


@register(
    "generator", "flow-matching", implements=MELODYFLOW_PAPER, used_by=[MELODYFLOW_TITLE], family="flow"
)
class FlowTransformer(nn.Module):
    """Velocity field ``v(x_t, t, c)``: a transformer encoder over ``(B, T, dim)`` latent frames."""

    def __init__(
        self,
        dim: int,
        d_model: int = 32,
        n_heads: int = 2,
        layers: int = 2,
        n_conditions: int = 2,
        max_len: int = 256,
    ):
        super().__init__()
        self.dim, self.d_model, self.n_conditions, self.max_len = dim, d_model, n_conditions, max_len
        self.inp = nn.Linear(dim, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(max_len, d_model))
        self.time = nn.Sequential(nn.Linear(d_model, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        self.cond = nn.Embedding(n_conditions, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, dim)

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.d_model // 2
        freq = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=torch.float32) / half)
        ang = 100.0 * t[:, None] * freq[None]  # t in [0, 1] spread over 100 radians at the fastest
        return torch.cat([torch.sin(ang), torch.cos(ang)], -1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        check_sequences(x, "FlowTransformer", self.dim)
        if x.shape[1] > self.max_len:
            raise ValueError(f"FlowTransformer: length {x.shape[1]} is past max_len {self.max_len}")
        cond = torch.as_tensor(cond, dtype=torch.long).expand(x.shape[0])
        if (cond < 0).any() or (cond >= self.n_conditions).any():
            raise ValueError(
                f"FlowTransformer: conditions must lie in [0, {self.n_conditions}), got {cond.tolist()}"
            )
        emb = self.time(self.time_embedding(t)) + self.cond(cond)
        h = self.inp(x) + self.pos[: x.shape[1]] + emb[:, None]
        return self.out(self.encoder(h))

    def loss(self, x1: torch.Tensor, cond, generator: torch.Generator | None = None) -> torch.Tensor:
        check_sequences(x1, "FlowTransformer.loss", self.dim)
        return flow_matching_loss(self, x1, cond, generator)
