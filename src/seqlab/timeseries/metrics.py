"""Generation-quality metrics for sets of series ``(n, T, C)``: real vs generated.

- :func:`marginal_discrepancy`: mean absolute difference between the two empirical densities of
  the values (histograms on shared bins spanning the real data, pooled over time), per channel,
  averaged -- the "marginal" score of LS4 (arXiv 2212.12749) and TimeGAN-style evaluations.
- :func:`acf` / :func:`acf_discrepancy`: the sample autocorrelation of each series,
  ``r_k = sum_t (x_t - m)(x_{t+k} - m) / sum_t (x_t - m)^2``, averaged over series; the
  discrepancy is ``mean_k |r_k(real) - r_k(generated)|`` over lags ``1..max_lag``.
- :func:`discriminative_score`: train a small GRU classifier to tell real from generated on half
  of each set, report ``|accuracy - 0.5|`` on the other half (0: indistinguishable).
"""

from __future__ import annotations

import torch
from torch import nn


def _check_pair(real: torch.Tensor, fake: torch.Tensor, who: str) -> None:
    for name, x in (("real", real), ("generated", fake)):
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{who}: {name} must be a tensor (n, T, channels), got {shape}")
        if x.shape[0] < 2:
            raise ValueError(f"{who}: {name} needs at least 2 series, got {x.shape[0]}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{who}: {name} contains NaN/inf")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(
            f"{who}: real {tuple(real.shape[1:])} and generated {tuple(fake.shape[1:])} must have the "
            "same (T, channels)"
        )


def marginal_discrepancy(real: torch.Tensor, fake: torch.Tensor, bins: int = 20) -> float:
    """Mean |density_real - density_generated| over ``bins`` shared bins, averaged over channels."""
    _check_pair(real, fake, "marginal_discrepancy")
    total = 0.0
    for c in range(real.shape[-1]):
        r, f = real[..., c].reshape(-1).double(), fake[..., c].reshape(-1).double()
        lo, hi = float(r.min()), float(r.max())
        if hi <= lo:
            hi = lo + 1.0
        width = (hi - lo) / bins
        # values outside the real range fall into the edge bins: they still count against the fake set
        pr = torch.histc(r.clamp(lo, hi), bins, lo, hi) / (r.numel() * width)
        pf = torch.histc(f.clamp(lo, hi), bins, lo, hi) / (f.numel() * width)
        total += float((pr - pf).abs().mean())
    return total / real.shape[-1]


def acf(x: torch.Tensor, max_lag: int) -> torch.Tensor:
    """``(max_lag + 1, C)`` sample autocorrelation, averaged over the ``n`` series of ``(n, T, C)``."""
    if x.dim() != 3:
        raise ValueError(f"acf expects (n, T, channels), got {tuple(x.shape)}")
    if not isinstance(max_lag, int) or not 0 <= max_lag < x.shape[1]:
        raise ValueError(f"max_lag must be an int in [0, {x.shape[1] - 1}], got {max_lag!r}")
    d = (x - x.mean(1, keepdim=True)).double()
    denom = (d * d).sum(1).clamp_min(1e-12)  # (n, C)
    t = x.shape[1]
    r = torch.stack([(d[:, : t - k] * d[:, k:]).sum(1) / denom for k in range(max_lag + 1)])  # (K, n, C)
    return r.mean(1)


def acf_discrepancy(real: torch.Tensor, fake: torch.Tensor, max_lag: int = 10) -> float:
    """``mean_{k=1..max_lag} |acf_real(k) - acf_generated(k)|``, averaged over channels."""
    _check_pair(real, fake, "acf_discrepancy")
    return float((acf(real, max_lag) - acf(fake, max_lag))[1:].abs().mean())


class _Classifier(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(channels, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.out(self.gru(x)[1][-1])[:, 0]


def discriminative_score(real: torch.Tensor, fake: torch.Tensor, seed: int = 0, steps: int = 300,
                         hidden: int = 16, lr: float = 1e-2, batch: int = 64) -> float:
    """``|held-out accuracy - 0.5|`` of a GRU classifier trained on half of each set."""
    _check_pair(real, fake, "discriminative_score")
    g = torch.Generator().manual_seed(seed)
    n = min(real.shape[0], fake.shape[0])
    real = real[torch.randperm(real.shape[0], generator=g)[:n]]
    fake = fake[torch.randperm(fake.shape[0], generator=g)[:n]]
    half = n // 2
    x_tr = torch.cat([real[:half], fake[:half]])
    y_tr = torch.cat([torch.ones(half), torch.zeros(half)])
    x_te = torch.cat([real[half:], fake[half:]])
    y_te = torch.cat([torch.ones(n - half), torch.zeros(n - half)])
    torch.manual_seed(seed)
    clf = _Classifier(real.shape[-1], hidden)
    opt = torch.optim.Adam(clf.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(x_tr.shape[0], (min(batch, x_tr.shape[0]),), generator=g)
        loss = nn.functional.binary_cross_entropy_with_logits(clf(x_tr[idx]), y_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float(((clf(x_te) > 0).float() == y_te).float().mean())
    return abs(acc - 0.5)
