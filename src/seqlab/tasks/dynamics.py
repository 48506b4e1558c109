"""In-context prediction of dynamical systems.

"HiPPO-Prophecy: State-Space Models can Provably Learn Dynamical Systems in Context"
(arXiv 2407.09375): every example is one trajectory of a system drawn afresh, so the model must
infer the dynamics from the states it has seen and predict the next one. Inputs are the states
``x_0..x_{L-1}`` (``d_input = state_dim``), targets the next states ``x_1..x_L`` (metric "mse").

- ``system="linear"``: ``x_{t+1} = A x_t + sigma * eps_t`` with ``A = rho * M / spectral_radius(M)``,
  ``M`` Gaussian, ``rho ~ U[rho_min, rho_max]`` (stable: ``rho < 1``), ``x_0 ~ N(0, I)``,
  ``eps_t ~ N(0, I)``.
- ``system="pendulum"`` (nonlinear, ``state_dim = 2``): a damped pendulum integrated with
  semi-implicit Euler, ``w_{t+1} = w_t - dt (k sin(th_t) + c w_t)``, ``th_{t+1} = th_t + dt w_{t+1}``,
  with ``k ~ U[0.5, 2]``, ``c ~ U[0, 0.2]``, ``th_0 ~ U[-2, 2]``, ``w_0 ~ U[-1, 1]``, plus ``sigma`` noise.

:meth:`copy_last_mse` gives the naive "predict x_{t+1} = x_t" baseline on a batch.
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
        M = torch.randn(n, d, d, generator=g, dtype=torch.float64)
        radius = torch.linalg.eigvals(M).abs().amax(-1)
        rho = self.rho_min + (self.rho_max - self.rho_min) * torch.rand(n, generator=g, dtype=torch.float64)
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
    def copy_last_mse(batch) -> float:
        """MSE of the naive predictor ``x_{t+1} = x_t`` over the labelled positions."""
        m = batch["mask"]
        return ((batch["inputs"] - batch["targets"]) ** 2)[m].mean().item()
