"""Piecewise-stationary sources and their exact Bayes-optimal predictor.

"Memory-Based Meta-Learning on Non-Stationary Distributions" (arXiv 2302.03067): a stream
``x_0..x_{L-1}`` over ``K`` symbols is cut into segments at unobserved change points; each segment
draws its own distribution ``theta ~ Dirichlet(alpha, ..., alpha)`` (``K = 2``: Beta) and emits
i.i.d. symbols from it. Change points come either with a fixed probability ``switch_prob`` before
each step ``t >= 1``, or as ``n_switches`` points placed uniformly without replacement among the
``L - 1`` slots. Targets are the next symbol (inputs ``[BOS, x_0..x_{L-2}]``), metric "log_loss".

Bayes-optimal predictor (:meth:`bayes_predictive`): the exact posterior over the start ``s`` of
the current segment (and, with ``n_switches``, the number ``j`` of switches so far) -- the
run-length / changepoint recursion. With ``c_k(s, t)`` the count of symbol ``k`` in ``x_s..x_{t-1}``:

    p(x_t = k | s, x_<t) = (c_k(s, t) + alpha) / (t - s + K alpha)      (KT for alpha=1/2, Laplace for 1)
    w_t(j, s) ∝ p(s, j, x_<t);   p(x_t | x_<t) = sum_{j,s} w_t(j, s) p(x_t | s, x_<t)
    w_{t+1}(j, s)   ∝ w_t(j, s) p(x_t | s) (1 - h_{t+1}(j))          (s <= t)
    w_{t+1}(j+1, t+1) ∝ sum_s w_t(j, s) p(x_t | s) h_{t+1}(j)

with hazard ``h = switch_prob``, or ``h_t(j) = (n_switches - j) / (L - t)`` for a fixed number of
switches. O(L^2) per sequence (times ``n_switches + 1``), no pruning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


@register(
    "task",
    "nonstationary",
    implements=Paper("Memory-Based Meta-Learning on Non-Stationary Distributions", "2302.03067"),
    used_by=["Memory-Based Meta-Learning on Non-Stationary Distributions"],
    description="next-symbol prediction on piecewise-stationary Bernoulli/categorical streams",
    metric="log_loss",
)
@dataclass
class NonStationary(Task):
    """Piecewise-stationary categorical source; targets are the next symbol."""

    n_symbols: int = 2
    seq_len: int = 128
    switch_prob: float = 0.02
    n_switches: int | None = None
    alpha: float = 0.5
    vocab_size: int = field(default=0, init=False)
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="log_loss", init=False)

    def __post_init__(self):
        check_ints("nonstationary", n_symbols=self.n_symbols, seq_len=self.seq_len)
        if self.n_symbols < 2:
            raise ValueError(f"nonstationary: n_symbols must be >= 2, got {self.n_symbols}")
        if not 0 <= self.switch_prob <= 1:
            raise ValueError(f"nonstationary: switch_prob must lie in [0, 1], got {self.switch_prob}")
        if self.n_switches is not None:
            check_ints("nonstationary", minimum=0, n_switches=self.n_switches)
            if self.n_switches > self.seq_len - 1:
                raise ValueError(
                    f"nonstationary: n_switches={self.n_switches} needs seq_len >= n_switches + 1 = "
                    f"{self.n_switches + 1}, got seq_len={self.seq_len}"
                )
        if self.alpha <= 0:
            raise ValueError(f"nonstationary: alpha (Dirichlet concentration) must be > 0, got {self.alpha}")
        self.vocab_size = self.n_symbols + 1  # symbols + BOS
        self.n_outputs = self.n_symbols

    # -- data ----------------------------------------------------------------------------
    def switches(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Bool (n, L): true at steps t >= 1 that start a new segment."""
        L = self.seq_len
        s = np.zeros((n, L), dtype=bool)
        if self.n_switches is None:
            s[:, 1:] = rng.random((n, L - 1)) < self.switch_prob
        else:
            for i in range(n):
                s[i, 1 + rng.choice(L - 1, self.n_switches, replace=False)] = True
        return s

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError("nonstationary has a fixed seq_len; pass length=None")
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        L, K = self.seq_len, self.n_symbols
        segment = np.cumsum(self.switches(n, rng), axis=1)  # segment id per step
        thetas = rng.dirichlet([self.alpha] * K, size=(n, L))  # one per possible segment
        probs = thetas[np.arange(n)[:, None], segment]  # (n, L, K)
        u = rng.random((n, L, 1))
        x = torch.from_numpy((u > probs.cumsum(-1)).sum(-1).clip(max=K - 1)).long()
        inputs = torch.cat([torch.full((n, 1), K, dtype=torch.long), x[:, :-1]], dim=1)
        return {"inputs": inputs, "targets": x, "mask": torch.ones(n, L, dtype=torch.bool)}

    # -- Bayes-optimal predictor ------------------------------------------------------------
    def _hazard(self, t: int, j: torch.Tensor) -> torch.Tensor:
        if self.n_switches is None:
            return torch.full_like(j, self.switch_prob, dtype=torch.float64)
        return ((self.n_switches - j).double() / (self.seq_len - t)).clamp(0, 1)

    def bayes_predictive(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``p(x_t = k | x_<t)`` of shape (n, L, K) for symbol streams ``x`` (n, L)."""
        if x.dim() != 2 or x.dtype != torch.long or x.shape[1] > self.seq_len:
            raise ValueError(
                f"expected symbols of shape (n, L <= {self.seq_len}) int64, got {x.dtype} {tuple(x.shape)}"
            )
        if x.numel() and (x.min() < 0 or x.max() >= self.n_symbols):
            raise ValueError(f"symbols must lie in [0, {self.n_symbols}), got {x.min()}..{x.max()}")
        n, L = x.shape
        K, a = self.n_symbols, self.alpha
        J = 1 if self.n_switches is None else self.n_switches + 1
        onehot = torch.nn.functional.one_hot(x, K).double()
        zero = torch.zeros(n, 1, K, dtype=torch.float64)
        prefix = torch.cat([zero, onehot.cumsum(1)], dim=1)  # (n, L+1, K): counts of x_0..x_{t-1}
        w = torch.zeros(n, J, L, dtype=torch.float64)
        w[:, 0, 0] = 1.0
        jj = torch.arange(J)
        out = torch.empty(n, L, K, dtype=torch.float64)
        for t in range(L):
            counts = prefix[:, t : t + 1] - prefix[:, : t + 1]  # (n, t+1, K): counts of x_s..x_{t-1}
            runs = torch.arange(t, -1, -1, dtype=torch.float64)  # t - s
            pred_s = (counts + a) / (runs[None, :, None] + K * a)  # (n, t+1, K)
            ws = w[:, :, : t + 1]
            w_s = ws.sum(1)  # (n, t+1): posterior over the segment start
            out[:, t] = torch.einsum("ns,nsk->nk", w_s, pred_s) / w_s.sum(1, keepdim=True)
            if t + 1 == L:
                break
            lik = pred_s.gather(2, x[:, t].view(n, 1, 1).expand(n, t + 1, 1)).squeeze(2)  # (n, t+1)
            ws = ws * lik[:, None, :]
            h = self._hazard(t + 1, jj)  # (J,)
            new = torch.zeros_like(w)
            new[:, :, : t + 1] = ws * (1 - h)[None, :, None]
            moved = ws.sum(2) * h[None, :]  # (n, J): switch now, from j to j+1
            if J == 1:
                new[:, 0, t + 1] = moved[:, 0]
            else:
                new[:, 1:, t + 1] = moved[:, :-1]
            w = new / new.sum((1, 2), keepdim=True)
        return out

    def bayes_log_loss(self, batch) -> float:
        """Mean ``-log p_Bayes(target)`` over labelled positions, in nats."""
        y, m = batch["targets"], batch["mask"]
        p = self.bayes_predictive(y).gather(2, y.unsqueeze(-1)).squeeze(-1)
        return (-p.log())[m].mean().item()
