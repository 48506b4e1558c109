"""TopK sparse autoencoder: a dictionary of concepts for a model's hidden states.

The sparse autoencoder CoCoMix ("LLM Pretraining with Continuous Concepts", Tack et al., arXiv
2502.08524) trains on a pretrained model's hidden states, in the TopK form (only the ``k``
largest pre-activations survive, so every code has at most ``k`` non-zeros)::

    z     = TopK_k( ReLU( W_enc (x - b_dec) + b_enc ) )          (n_latents)
    x_hat = W_dec z + b_dec                                        (d)
    loss  = mean || x - x_hat ||^2

Decoder columns are kept at unit norm (renormalised after each step) so a latent's size lives in
``z``, not in ``W_dec``. ``b_dec`` starts at the data mean. :func:`topk_relu` is the activation,
:func:`fit_sae` trains one with Adam on a fixed matrix of activations (full-batch or minibatches).
"""

from __future__ import annotations

import torch
from torch import nn


def topk_relu(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of ``relu(pre)`` along the last axis, zero the rest."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= pre.shape[-1]:
        raise ValueError(f"k must be an int in [1, {pre.shape[-1]}], got {k!r}")
    vals, idx = torch.relu(pre).topk(k, dim=-1)
    return torch.zeros_like(pre).scatter(-1, idx, vals)


class TopKSAE(nn.Module):
    """``d -> n_latents -> d`` with a TopK code (see the module docstring)."""

    def __init__(self, d: int, n_latents: int, k: int):
        super().__init__()
        for name, v in (("d", d), ("n_latents", n_latents), ("k", k)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"TopKSAE: {name} must be an int >= 1, got {v!r}")
        if k > n_latents:
            raise ValueError(f"TopKSAE: k={k} exceeds n_latents={n_latents}")
        self.d, self.n_latents, self.k = d, n_latents, k
        w = torch.randn(d, n_latents)
        w = w / w.norm(dim=0, keepdim=True)
        self.W_dec = nn.Parameter(w)
        self.W_enc = nn.Parameter(w.t().clone())
        self.b_enc = nn.Parameter(torch.zeros(n_latents))
        self.b_dec = nn.Parameter(torch.zeros(d))

    def _check(self, x):
        if not isinstance(x, torch.Tensor) or x.shape[-1] != self.d:
            raise ValueError(f"TopKSAE expects (..., {self.d}) activations, got {getattr(x, 'shape', x)!r}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return topk_relu((x - self.b_dec) @ self.W_enc.t() + self.b_enc, self.k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec.t() + self.b_dec

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return self.decode(z), z

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.div_(self.W_dec.norm(dim=0, keepdim=True).clamp_min(1e-8))


def fit_sae(
    acts: torch.Tensor,
    n_latents: int,
    k: int,
    *,
    steps: int = 200,
    lr: float = 1e-3,
    batch_size: int | None = None,
    seed: int = 0,
) -> tuple[TopKSAE, dict]:
    """Train a :class:`TopKSAE` on ``acts`` (n, d); returns it and ``{"mse", "fvu"}`` on ``acts``
    (fvu: fraction of variance unexplained, ``||x - x_hat||^2 / ||x - mean||^2``)."""
    if not isinstance(acts, torch.Tensor) or acts.dim() != 2 or acts.shape[0] < 2:
        raise ValueError(
            f"fit_sae expects a (n >= 2, d) matrix of activations, got {getattr(acts, 'shape', acts)!r}"
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    acts = acts.float()
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    sae = TopKSAE(acts.shape[1], n_latents, k)
    with torch.no_grad():
        sae.b_dec.copy_(acts.mean(0))
    opt = torch.optim.Adam(sae.parameters(), lr=lr)
    n = acts.shape[0]
    for _ in range(steps):
        x = (
            acts
            if batch_size is None or batch_size >= n
            else acts[torch.randint(n, (batch_size,), generator=g)]
        )
        x_hat, _ = sae(x)
        loss = ((x - x_hat) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sae.normalize_decoder()
    with torch.no_grad():
        x_hat, _ = sae(acts)
        err = ((acts - x_hat) ** 2).sum(-1).mean()
        var = ((acts - acts.mean(0)) ** 2).sum(-1).mean()
    return sae, {"mse": float(err / acts.shape[1]), "fvu": float(err / var)}
