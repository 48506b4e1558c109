"""LS4: a deep latent state-space generative model of time series, and its GRU-VAE baseline.

Paper: "Deep Latent State Space Models for Time-Series Generation" (LS4, Zhou et al., ICML 2023,
arXiv 2212.12749). A latent sequence ``z_{1:T}`` (``d_z`` channels) generates the observations
``x_{1:T}``; every conditional is a stack of state-space layers, so training runs the whole
sequence at once through the convolutional view ``y = K * u + D u`` (FFT) and generation steps
the same layers through their recurrence ``h_t = dA h_{t-1} + dB u_t``:

    prior       p(z_t | z_{<t})            = N(mu_p, s_p^2),  (mu_p, log s_p) = head(SSM([z_0, z_{1:t-1}])_t)
    emission    p(x_t | z_{<=t}, x_{<t})   = N(mu_x, sigma^2), mu_x = head(SSM([z_t ; x_{t-1} ; m_{t-1}]))
    posterior   q(z_t | x_{<=t})           = N(mu_q, s_q^2),  (mu_q, log s_q) = head(SSM([x_t m_t ; m_t]))

``m`` is the observation mask (1 observed, 0 missing; missing values enter as 0 with their mask
bit, so the model can be trained to interpolate); ``z_0`` and ``x_0`` are learned start vectors,
``sigma`` a learned per-channel noise scale. Training maximises the ELBO

    sum_t m_t log N(x_t; mu_x, sigma^2) - sum_t KL(q(z_t | x_{<=t}) || p(z_t | z_{<t})),

with ``z ~ q`` by reparametrisation and the Gaussian KL in closed form (:func:`gaussian_kl`).
Each SSM layer is seqlab's S4D mixer (diagonal complex state, Vandermonde kernel) followed by a
GELU, a linear map, a residual and a LayerNorm; the paper's layer also feeds ``z`` into the state
update (``h' = A h + B x + E z``), which the concatenated input ``[z ; x]`` of the emission stack
realises. :class:`GRUVAE` is the same model with GRU stacks in place of the SSM stacks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.s4d import S4D
from seqlab.registry import Paper, register

LS4_TITLE = "Deep Latent State Space Models for Time-Series Generation"
LS4_PAPER = Paper(LS4_TITLE, "2212.12749")


def gaussian_kl(mu_q, logstd_q, mu_p, logstd_p) -> torch.Tensor:
    """Elementwise ``KL(N(mu_q, s_q^2) || N(mu_p, s_p^2))``."""
    return (
        logstd_p
        - logstd_q
        + (torch.exp(2 * logstd_q) + (mu_q - mu_p) ** 2) / (2 * torch.exp(2 * logstd_p))
        - 0.5
    )


def check_batch(x: torch.Tensor, channels: int, who: str, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Validate ``x (B, T, channels)`` (finite where observed) and return the float mask."""
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{who} expects a float tensor (batch, length, {channels}), got {shape}")
    if x.shape[-1] != channels:
        raise ValueError(f"{who} expects {channels} channel(s), got {x.shape[-1]}")
    if x.shape[1] < 1:
        raise ValueError(f"{who} expects at least one time step, got length 0")
    if mask is None:
        mask = torch.ones_like(x)
    elif mask.shape != x.shape:
        raise ValueError(f"{who}: mask shape {tuple(mask.shape)} must equal x shape {tuple(x.shape)}")
    mask = mask.to(x.dtype)
    if not torch.isfinite(x[mask > 0]).all():
        raise ValueError(
            f"{who}: observed values contain NaN/inf; mark missing values with mask=0 instead"
        )
    return mask


class SSMStack(nn.Module):
    """``Linear(d_in -> H)`` then ``layers`` x [S4D, GELU, Linear, residual, LayerNorm] (causal)."""

    def __init__(self, d_in: int, hidden: int, layers: int, d_state: int = 16, seed: int = 0):
        super().__init__()
        self.inp = nn.Linear(d_in, hidden)
        self.ssm = nn.ModuleList(
            S4D(hidden, d_state, dt_min=1e-2, dt_max=0.5, seed=seed + i) for i in range(layers)
        )
        self.mix = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.norm = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Parallel (convolutional) view over the whole sequence ``(B, T, d_in) -> (B, T, H)``."""
        h = self.inp(u)
        for ssm, mix, norm in zip(self.ssm, self.mix, self.norm):
            h = norm(h + mix(F.gelu(ssm(h))))
        return h

    def init_state(self, batch: int):
        return [ssm.init_state(batch) for ssm in self.ssm]

    def step(self, u_t: torch.Tensor, state):
        """Recurrent view, one time step: ``(B, d_in) -> (B, H)`` and the new state."""
        h, new = self.inp(u_t), []
        for ssm, mix, norm, s in zip(self.ssm, self.mix, self.norm, state):
            y, s = ssm.step(h, s)
            h = norm(h + mix(F.gelu(y)))
            new.append(s)
        return h, new


class GRUStack(nn.Module):
    """``Linear(d_in -> H)`` then a ``layers``-deep GRU: the baseline's conditional network."""

    def __init__(self, d_in: int, hidden: int, layers: int, d_state: int = 0, seed: int = 0):
        super().__init__()
        self.inp = nn.Linear(d_in, hidden)
        self.gru = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.gru(self.inp(u))[0]

    def init_state(self, batch: int):
        w = self.inp.weight
        return torch.zeros(self.gru.num_layers, batch, self.gru.hidden_size, dtype=w.dtype, device=w.device)

    def step(self, u_t: torch.Tensor, state):
        y, state = self.gru(self.inp(u_t)[:, None], state)
        return y[:, 0], state


class LatentSequenceVAE(nn.Module):
    """The LS4 latent-variable model with a pluggable stack (``SSMStack`` or ``GRUStack``)."""

    stack = SSMStack

    def __init__(self, channels: int = 1, latent: int = 4, hidden: int = 32, layers: int = 2,
                 d_state: int = 16, seed: int = 0):
        super().__init__()
        for name, v in (("channels", channels), ("latent", latent), ("hidden", hidden), ("layers", layers)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        torch.manual_seed(seed)
        self.channels, self.latent = channels, latent
        self.posterior = self.stack(2 * channels, hidden, layers, d_state, seed)
        self.prior = self.stack(latent, hidden, layers, d_state, seed + 100)
        self.emission = self.stack(latent + 2 * channels, hidden, layers, d_state, seed + 200)
        self.q_head = nn.Linear(hidden, 2 * latent)
        self.p_head = nn.Linear(hidden, 2 * latent)
        self.x_head = nn.Linear(hidden, channels)
        self.z0 = nn.Parameter(torch.zeros(latent))
        self.x0 = nn.Parameter(torch.zeros(channels))
        self.log_sigma = nn.Parameter(torch.full((channels,), math.log(0.3)))

    # -- the three conditionals over whole sequences -------------------------------------------
    def _shift(self, start: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        return torch.cat([start.expand(seq.shape[0], 1, -1), seq[:, :-1]], dim=1)

    def encode(self, x: torch.Tensor, mask: torch.Tensor):
        """Posterior ``(mu_q, logstd_q)``, each ``(B, T, d_z)``; ``q(z_t)`` reads ``x_{<=t}`` only."""
        mu, logstd = self.q_head(self.posterior(torch.cat([x * mask, mask], -1))).chunk(2, -1)
        return mu, logstd.clamp(-7, 3)

    def prior_params(self, z: torch.Tensor):
        mu, logstd = self.p_head(self.prior(self._shift(self.z0[None, None], z))).chunk(2, -1)
        return mu, logstd.clamp(-7, 3)

    def emission_mean(self, z: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        prev = self._shift(torch.cat([self.x0, torch.ones_like(self.x0)])[None, None],
                           torch.cat([x * mask, mask], -1))
        return self.x_head(self.emission(torch.cat([z, prev], -1)))

    def loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Negative ELBO per observed value (mean over the batch)."""
        mask = check_batch(x, self.channels, "LS4.loss", mask)
        x = torch.where(mask > 0, x, torch.zeros_like(x))
        mu_q, ls_q = self.encode(x, mask)
        z = mu_q + torch.exp(ls_q) * torch.randn_like(mu_q)
        mu_p, ls_p = self.prior_params(z)
        mean = self.emission_mean(z, x, mask)
        sigma = torch.exp(self.log_sigma)
        nll = 0.5 * ((x - mean) / sigma) ** 2 + self.log_sigma + 0.5 * math.log(2 * math.pi)
        kl = gaussian_kl(mu_q, ls_q, mu_p, ls_p).sum()
        return ((nll * mask).sum() + kl) / mask.sum().clamp_min(1)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Emission means with ``z`` at its posterior mean; at masked points this interpolates."""
        mask = check_batch(x, self.channels, "LS4.reconstruct", mask)
        x = torch.where(mask > 0, x, torch.zeros_like(x))
        return self.emission_mean(self.encode(x, mask)[0], x, mask)

    # -- generation: the same stacks, stepped ---------------------------------------------------
    @torch.no_grad()
    def _roll(self, n: int, steps: int, g, noise: bool, z_state=None, x_state=None, z_prev=None,
              x_prev=None) -> torch.Tensor:
        z_state = self.prior.init_state(n) if z_state is None else z_state
        x_state = self.emission.init_state(n) if x_state is None else x_state
        z_prev = self.z0.expand(n, -1) if z_prev is None else z_prev
        x_prev = torch.cat([self.x0, torch.ones_like(self.x0)]).expand(n, -1) if x_prev is None else x_prev
        sigma, out = torch.exp(self.log_sigma), []
        for _ in range(steps):
            h, z_state = self.prior.step(z_prev, z_state)
            mu, logstd = self.p_head(h).chunk(2, -1)
            z_prev = mu
            if noise:
                z_prev = mu + torch.exp(logstd.clamp(-7, 3)) * torch.randn(mu.shape, generator=g)
            h, x_state = self.emission.step(torch.cat([z_prev, x_prev], -1), x_state)
            x_t = self.x_head(h)
            if noise:
                x_t = x_t + sigma * torch.randn(x_t.shape, generator=g)
            out.append(x_t)
            x_prev = torch.cat([x_t, torch.ones_like(x_t)], -1)
        return torch.stack(out, 1)

    def sample(self, n: int, length: int, generator: torch.Generator | None = None,
               noise: bool = True) -> torch.Tensor:
        """``(n, length, channels)`` draws from the generative model (ancestral, step by step)."""
        for name, v in (("n", n), ("length", length)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"sample: {name} must be a positive int, got {v!r}")
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        return self._roll(n, length, g, noise)

    @torch.no_grad()
    def extrapolate(self, x_obs: torch.Tensor, horizon: int) -> torch.Tensor:
        """Mean forecast ``(B, horizon, channels)`` after conditioning on ``x_obs``.

        ``z`` of the observed part is the posterior mean; the prior and emission stacks are
        stepped through it, then rolled forward with their means (no sampling).
        """
        mask = check_batch(x_obs, self.channels, "LS4.extrapolate")
        if not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"extrapolate: horizon must be a positive int, got {horizon!r}")
        n = x_obs.shape[0]
        z = self.encode(x_obs, mask)[0]
        z_state, x_state = self.prior.init_state(n), self.emission.init_state(n)
        z_prev = self.z0.expand(n, -1)
        x_prev = torch.cat([self.x0, torch.ones_like(self.x0)]).expand(n, -1)
        for t in range(x_obs.shape[1]):
            _, z_state = self.prior.step(z_prev, z_state)
            _, x_state = self.emission.step(torch.cat([z[:, t], x_prev], -1), x_state)
            z_prev, x_prev = z[:, t], torch.cat([x_obs[:, t], mask[:, t]], -1)
        return self._roll(n, horizon, None, False, z_state, x_state, z_prev, x_prev)


@register("timeseries", "ls4", implements=LS4_PAPER)
class LS4(LatentSequenceVAE):
    """LS4 (arXiv 2212.12749): prior, emission and posterior are S4D state-space stacks."""

    stack = SSMStack


@register("timeseries", "gru-vae")
class GRUVAE(LatentSequenceVAE):
    """The recurrent VAE baseline: LS4's model with GRU stacks (the paper's RNN-based comparison)."""

    stack = GRUStack
