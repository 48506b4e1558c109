"""In-context prediction of dynamical systems.

"HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context"
(arXiv 2407.09375): every example is one trajectory of a system drawn afresh, so the model must
infer the dynamics from the states it has seen and predict the next one. Inputs are the states
``x_0..x_{L-1}`` (``d_input = state_dim``), targets the next states ``x_1..x_L`` (metric "mse").

- ``system="linear"``: ``x_{t+1} = A x_t + sigma * eps_t`` with ``A = rho * M / spectral_radius(M)``,
  ``M`` Gaussian, ``rho ~ U[rho_min, rho_max]`` (stable: ``rho < 1``), ``x_0 ~ N(0, I)``,
  ``eps_t ~ N(0, I)``. ``system_seed=k`` fixes one system (``A`` drawn from seed ``k``) for every
  trajectory: the model can then learn ``A`` into its weights, no in-context inference needed --
  the positive control of the HiPPO-Prophecy claim (training fits dynamics at all).
- ``system="pendulum"`` (nonlinear, ``state_dim = 2``): a damped pendulum integrated with
  semi-implicit Euler, ``w_{t+1} = w_t - dt (k sin(th_t) + c w_t)``, ``th_{t+1} = th_t + dt w_{t+1}``,
  with ``k ~ U[0.5, 2]``, ``c ~ U[0, 0.2]``, ``th_0 ~ U[-2, 2]``, ``w_0 ~ U[-1, 1]``, plus ``sigma`` noise.

Baselines on the same batch (what the HiPPO-Prophecy claim must beat, and its near-optimum):

- :meth:`predict_zero_mse`: predict ``x_{t+1} = 0`` (the stationary mean of a stable system);
- :meth:`copy_last_mse`: predict ``x_{t+1} = x_t``;
- :meth:`least_squares_mse`: the in-context least-squares fit of the linear system. At step ``t``
  only ``x_0..x_t`` are visible, so ``A_t = S_yx (S_xx + lam I)^{-1}`` with
  ``S_xx = sum_{s<t} x_s x_s^T`` and ``S_yx = sum_{s<t} x_{s+1} x_s^T`` (ridge ``lam`` keeps the
  first ``d`` steps defined; ``A_0 = 0``), and the prediction is ``A_t x_t``. For the linear system
  with Gaussian noise this is the maximum-likelihood estimate of ``A`` from the prefix, so its
  error approaches the noise floor ``sigma^2`` as ``t`` grows: a near-optimal causal predictor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


@register(
    "task",
    "dynamics",
    implements=Paper(
        "HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context", "2407.09375"
    ),
    used_by=["HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context"],
    description="in-context next-state prediction of a random stable linear system or a pendulum",
    metric="mse",
)
@dataclass
class Dynamics(Task):
    """Next-state regression on trajectories of freshly drawn dynamical systems."""

    system: str = "linear"
    state_dim: int = 4
    seq_len: int = 64
    noise: float = 0.05
    rho_min: float = 0.8
    rho_max: float = 0.99
    dt: float = 0.1
    system_seed: int | None = None
    d_input: int = field(default=0, init=False)
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="regression", init=False)
    metric: str = field(default="mse", init=False)

    def __post_init__(self):
        check_ints("dynamics", state_dim=self.state_dim, seq_len=self.seq_len)
        if self.system not in ("linear", "pendulum"):
            raise ValueError(f"dynamics: system must be 'linear' or 'pendulum', got {self.system!r}")
        if self.system == "pendulum" and self.state_dim != 2:
            raise ValueError(
                f"dynamics: the pendulum has state_dim=2 (angle, velocity), got {self.state_dim}"
            )
        if not 0 < self.rho_min <= self.rho_max < 1:
            raise ValueError(
                f"dynamics: stable systems need 0 < rho_min <= rho_max < 1, "
                f"got {self.rho_min}, {self.rho_max}"
            )
        if self.noise < 0 or self.dt <= 0:
            raise ValueError(f"dynamics: need noise >= 0 and dt > 0, got noise={self.noise}, dt={self.dt}")
        ss = self.system_seed
        if ss is not None and (isinstance(ss, bool) or not isinstance(ss, int) or ss < 0):
            raise ValueError(f"dynamics: system_seed must be None or an int >= 0, got {self.system_seed!r}")
        if self.system_seed is not None and self.system != "linear":
            raise ValueError("dynamics: system_seed fixes a linear system; use it with system='linear'")
        self.d_input = self.n_outputs = self.state_dim

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError("dynamics has a fixed seq_len; pass length=None")
        traj = self._linear(n, generator) if self.system == "linear" else self._pendulum(n, generator)
        return {
            "inputs": traj[:, :-1].float(),
            "targets": traj[:, 1:].float(),
            "mask": torch.ones(n, self.seq_len, dtype=torch.bool),
        }

    def _linear(self, n, g):
        d, L = self.state_dim, self.seq_len
        gs = g if self.system_seed is None else torch.Generator().manual_seed(self.system_seed)
        m = n if self.system_seed is None else 1
        M = torch.randn(m, d, d, generator=gs, dtype=torch.float64)
        radius = torch.linalg.eigvals(M).abs().amax(-1)
        rho = self.rho_min + (self.rho_max - self.rho_min) * torch.rand(m, generator=gs, dtype=torch.float64)
        M, radius, rho = M.expand(n, d, d), radius.expand(n), rho.expand(n)
        A = M * (rho / radius)[:, None, None]
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        eps = self.noise * torch.randn(n, L, d, generator=g, dtype=torch.float64)
        out = [x]
        for t in range(L):
            x = torch.einsum("nij,nj->ni", A, x) + eps[:, t]
            out.append(x)
        return torch.stack(out, dim=1)

    def _pendulum(self, n, g):
        L, dt = self.seq_len, self.dt
        u = torch.rand(n, 4, generator=g, dtype=torch.float64)
        k, c = 0.5 + 1.5 * u[:, 0], 0.2 * u[:, 1]
        th, w = 4 * u[:, 2] - 2, 2 * u[:, 3] - 1
        eps = self.noise * torch.randn(n, L, 2, generator=g, dtype=torch.float64)
        out = [torch.stack([th, w], -1)]
        for t in range(L):
            w = w - dt * (k * torch.sin(th) + c * w) + eps[:, t, 1]
            th = th + dt * w + eps[:, t, 0]
            out.append(torch.stack([th, w], -1))
        return torch.stack(out, dim=1)

    @staticmethod
    def _mse(pred, batch) -> float:
        m = batch["mask"]
        return ((pred - batch["targets"]) ** 2).mean(-1)[m].mean().item()

    @classmethod
    def copy_last_mse(cls, batch) -> float:
        """MSE of the naive predictor ``x_{t+1} = x_t`` over the labelled positions."""
        return cls._mse(batch["inputs"], batch)

    @classmethod
    def predict_zero_mse(cls, batch) -> float:
        """MSE of predicting ``x_{t+1} = 0`` (the stable system's stationary mean)."""
        return cls._mse(torch.zeros_like(batch["targets"]), batch)

    @staticmethod
    def least_squares_predictions(inputs: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
        """Causal in-context least-squares predictions ``A_t x_t`` for ``inputs (n, L, d)``.

        ``A_t`` is fitted (ridge ``ridge``) on the pairs ``(x_s, x_{s+1})``, ``s < t``, all inside
        the visible prefix ``x_0..x_t``; ``A_0 = 0``.
        """
        if inputs.dim() != 3:
            raise ValueError(f"least_squares_predictions expects inputs (n, L, d), got {tuple(inputs.shape)}")
        if not ridge > 0:
            raise ValueError(f"least_squares_predictions expects ridge > 0, got {ridge!r}")
        x = inputs.double()
        n, L, d = x.shape
        prev, nxt = x[:, :-1], x[:, 1:]  # pair s: (x_s, x_{s+1}), visible from step s + 1 on
        sxx = torch.cumsum(torch.einsum("nti,ntj->ntij", prev, prev), dim=1)
        syx = torch.cumsum(torch.einsum("nti,ntj->ntij", nxt, prev), dim=1)
        zeros = x.new_zeros(n, 1, d, d)
        sxx = torch.cat([zeros, sxx], 1)  # at step t: pairs s < t
        syx = torch.cat([zeros, syx], 1)
        eye = torch.eye(d, dtype=x.dtype)
        # A_t = S_yx (S_xx + lam I)^{-1}  <=>  A_t^T = (S_xx + lam I)^{-1} S_yx^T  (S_xx symmetric)
        a_t = torch.linalg.solve(sxx + ridge * eye, syx.transpose(-1, -2)).transpose(-1, -2)
        return torch.einsum("ntij,ntj->nti", a_t, x).to(inputs.dtype)

    @classmethod
    def least_squares_mse(cls, batch) -> float:
        """MSE of the causal in-context least-squares fit of a linear system (near-optimal on one)."""
        return cls._mse(cls.least_squares_predictions(batch["inputs"]), batch)
