"""Elastic weight consolidation (EWC) and online EWC.

EWC ("Overcoming catastrophic forgetting in neural networks", Kirkpatrick et al., arXiv 1612.00796),
as compared in "Three scenarios for continual learning" (arXiv 1904.07734) and used for consolidation in
"Continuous Learning in a Hierarchical Multiscale Neural Network"::

    L(theta) = L_i(theta) + (lambda / 2) sum_{k<i} sum_p F_k,p (theta_p - theta*_k,p)^2
    F_k,p = E_x [ (d log p(y_hat | x) / d theta_p)^2 ],  y_hat = argmax_y p(y | x)  (diagonal Fisher)

Online EWC (Schwarz et al., "Progress & Compress", arXiv 1805.06370) keeps one running penalty:
``F <- gamma F + F_i`` anchored at the latest ``theta*``. The Fisher is computed from per-example
gradients (``torch.func.vmap``) over the active units of the experience just learned; lambda and
gamma default to the published per-scenario values (:mod:`seqlab.continual.hparams`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from seqlab.continual.backbones import MLP
from seqlab.continual.hparams import published
from seqlab.continual.scenarios import THREE
from seqlab.continual.strategy import NEG, Strategy, params
from seqlab.registry import Paper, register

HMN = "Continuous Learning in a Hierarchical Multiscale Neural Network"


def fisher_diagonal_loop(model, x: torch.Tensor, active: torch.Tensor) -> dict[str, torch.Tensor]:
    """Reference: one backward pass per example (works for any model, slow)."""
    ps = params(model)
    total = {n: torch.zeros_like(p) for n, p in ps.items()}
    for i in range(len(x)):
        out = model(x[i : i + 1]).masked_fill(~active[i : i + 1], NEG)
        lp = F.log_softmax(out, dim=1)[0]
        grads = torch.autograd.grad(lp[lp.argmax()], list(ps.values()), allow_unused=True)
        for (n, _), g in zip(ps.items(), grads):
            if g is not None:
                total[n] += g**2
    return {n: v / len(x) for n, v in total.items()}


def fisher_diagonal(model, x: torch.Tensor, active: torch.Tensor, chunk: int = 50) -> dict[str, torch.Tensor]:
    """Mean squared per-example gradient of ``log p(argmax | x)`` for every trainable parameter.

    Per-example gradients come from ``torch.func.vmap`` for the MLP backbones; other models (a
    ``SequenceModel`` checks its inputs with data-dependent branches vmap cannot trace) use the loop.
    """
    if isinstance(model, MLP):
        return _fisher_vmap(model, x, active, chunk)
    return fisher_diagonal_loop(model, x, active)


def _fisher_vmap(model, x, active, chunk):
    ps = {n: p.detach() for n, p in params(model).items()}
    bufs = {n: b.detach() for n, b in model.named_buffers()}

    def logp(pr, xi, ai):
        out = functional_call(model, (pr, bufs), (xi.unsqueeze(0),))[0].masked_fill(~ai, NEG)
        lp = F.log_softmax(out, dim=0)
        return lp.gather(0, lp.argmax().unsqueeze(0)).squeeze(0)

    per_ex = vmap(grad(logp), in_dims=(None, 0, 0))
    total = {n: torch.zeros_like(p) for n, p in ps.items()}
    for s in range(0, len(x), chunk):
        g = per_ex(ps, x[s : s + chunk], active[s : s + chunk])
        for n in total:
            total[n] += (g[n] ** 2).sum(0)
    return {n: v / len(x) for n, v in total.items()}


def quadratic_penalty(model, anchors: list[dict], fishers: list[dict]) -> torch.Tensor:
    """``sum_k sum_p F_k,p (theta_p - anchor_k,p)^2`` (without the lambda/2 factor)."""
    ps = params(model)
    total = torch.zeros(())
    for a, f in zip(anchors, fishers):
        for n, p in ps.items():
            total = total + (f[n] * (p - a[n]) ** 2).sum()
    return total


@register(
    "strategy",
    "ewc",
    implements=Paper("Overcoming catastrophic forgetting in neural networks", "1612.00796"),
    used_by=[THREE, HMN],
    scenarios=("task", "domain", "class"),
    family="regularization",
)
class EWC(Strategy):
    """Elastic weight consolidation: quadratic penalty weighted by the diagonal Fisher."""

    name = "ewc"
    online_mode = False

    def __init__(
        self, seed: int = 0, lam: float | None = None, gamma: float | None = None, fisher_n: int = 500, **kw
    ):
        super().__init__(seed, **kw)
        self.lam, self.gamma, self.fisher_n = lam, gamma, fisher_n
        self.anchors: list[dict] = []
        self.fishers: list[dict] = []

    def setup(self, stream, cfg):
        super().setup(stream, cfg)
        if self.lam is None:
            self.lam = published(
                stream.name, stream.scenario, "online_lambda" if self.online_mode else "ewc_lambda"
            )
        if self.online_mode and self.gamma is None:
            self.gamma = published(stream.name, stream.scenario, "gamma")

    def extra_loss(self, model, batch, outputs):
        if not self.anchors:
            return None
        return 0.5 * self.lam * quadratic_penalty(model, self.anchors, self.fishers)

    def after_experience(self, model, exp):
        g = torch.Generator().manual_seed(self.seed * 7 + exp.index)
        idx = torch.randperm(len(exp.y_train), generator=g)[: self.fisher_n]
        model.eval()
        fish = fisher_diagonal(model, exp.x_train[idx], self.stream.active(exp.t_train[idx], self.n_seen))
        model.train()
        anchor = {n: p.detach().clone() for n, p in params(model).items()}
        if self.online_mode and self.fishers:
            fish = {n: self.gamma * self.fishers[0][n] + fish[n] for n in fish}
            self.fishers, self.anchors = [fish], [anchor]
        else:
            self.fishers.append(fish)
            self.anchors.append(anchor)

    def state(self):
        out = {}
        for k, (a, f) in enumerate(zip(self.anchors, self.fishers)):
            out.update({f"anchor/{k}/{n}": v for n, v in a.items()})
            out.update({f"fisher/{k}/{n}": v for n, v in f.items()})
        return out

    def load_state(self, model, state):
        k = 0
        self.anchors, self.fishers = [], []
        while any(key.startswith(f"anchor/{k}/") for key in state):
            pre_a, pre_f = f"anchor/{k}/", f"fisher/{k}/"
            self.anchors.append({key[len(pre_a) :]: v for key, v in state.items() if key.startswith(pre_a)})
            self.fishers.append({key[len(pre_f) :]: v for key, v in state.items() if key.startswith(pre_f)})
            k += 1


@register(
    "strategy",
    "online_ewc",
    implements=Paper("Progress & Compress: A scalable framework for continual learning", "1805.06370"),
    used_by=[THREE],
    scenarios=("task", "domain", "class"),
    family="regularization",
)
class OnlineEWC(EWC):
    """Online EWC: one running Fisher ``F <- gamma F + F_i`` anchored at the latest weights."""

    name = "online_ewc"
    online_mode = True
