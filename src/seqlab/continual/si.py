"""Synaptic intelligence (SI; Zenke, Poole & Ganguli, "Continual Learning Through Synaptic
Intelligence", arXiv 1703.04200), as compared in "Three scenarios for continual learning" (arXiv 1904.07734)::

    omega_p += -g_p(t) * (theta_p(t+1) - theta_p(t))            (path integral, every step)
    Omega_p += omega_p / (Delta_p^2 + xi),  Delta_p = theta_p(end) - theta_p(start)   (per experience)
    L(theta) = L_i(theta) + c sum_p Omega_p (theta_p - theta*_p)^2

with ``xi = 0.1`` and ``c`` the published per-scenario value (:mod:`seqlab.continual.hparams`).
"""

from __future__ import annotations

import torch

from seqlab.continual.hparams import published
from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import Strategy, params
from seqlab.registry import Paper, register


@register(
    "strategy",
    "si",
    implements=Paper("Continual Learning Through Synaptic Intelligence", "1703.04200"),
    used_by=[THREE],
    scenarios=("task", "domain", "class"),
    family="regularization",
)
class SI(Strategy):
    """Synaptic intelligence: importance from each parameter's contribution to the loss decrease."""

    name = "si"

    def __init__(self, seed: int = 0, c: float | None = None, xi: float = 0.1, **kw):
        super().__init__(seed, **kw)
        self.c, self.xi = c, xi
        self.omega: dict[str, torch.Tensor] = {}  # running path integral of this experience
        self.Omega: dict[str, torch.Tensor] = {}  # consolidated importance
        self.anchor: dict[str, torch.Tensor] = {}
        self.start: dict[str, torch.Tensor] = {}
        self.prev: dict[str, torch.Tensor] = {}
        self.grads: dict[str, torch.Tensor] = {}

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        if self.c is None:
            self.c = published(stream.name, stream.scenario, "si_c")

    def before_experience(self, model, exp):
        ps = params(model)
        self.start = {n: p.detach().clone() for n, p in ps.items()}
        self.prev = {n: p.detach().clone() for n, p in ps.items()}
        self.omega = {n: torch.zeros_like(p) for n, p in ps.items()}

    def extra_loss(self, model, batch, outputs):
        if not self.Omega:
            return None
        ps = params(model)
        return self.c * sum(
            ((self.Omega[n] * (p - self.anchor[n]) ** 2).sum() for n, p in ps.items()), torch.zeros(())
        )

    def after_backward(self, model):
        self.grads = {n: p.grad.detach().clone() for n, p in params(model).items() if p.grad is not None}

    def after_step(self, model, step, metrics):
        for n, p in params(model).items():
            if n in self.grads:
                self.omega[n] -= self.grads[n] * (p.detach() - self.prev[n])
            self.prev[n] = p.detach().clone()

    def after_experience(self, model, exp):
        for n, p in params(model).items():
            delta = p.detach() - self.start[n]
            add = self.omega[n] / (delta**2 + self.xi)
            self.Omega[n] = self.Omega.get(n, torch.zeros_like(p)) + add
            self.anchor[n] = p.detach().clone()

    def state(self):
        return {
            **{f"Omega/{n}": v for n, v in self.Omega.items()},
            **{f"anchor/{n}": v for n, v in self.anchor.items()},
        }

    def load_state(self, model, state):
        self.Omega = {k[6:]: v for k, v in state.items() if k.startswith("Omega/")}
        self.anchor = {k[7:]: v for k, v in state.items() if k.startswith("anchor/")}
