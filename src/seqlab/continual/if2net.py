"""IF2Net ("IF2Net: Innately Forgetting-Free Networks for Continual Learning", arXiv 2306.10480).

Hidden weights are random and frozen (``h = ReLU(A x + a)``); only the output weights ``W`` learn, by
recursive least squares whose gain is projected orthogonally to the inputs of earlier data::

    K = P H^T (I + H P H^T)^{-1},   W <- W + K (Y - H W),   P <- P - K H P,   P_0 = I / alpha

``P`` is (up to the ridge ``alpha``) the projector onto the complement of the span of past hidden
activations, so an update ``Delta W = K (Y - H W)`` leaves old outputs ``H_old W`` (nearly) unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.continual.strategy import Strategy
from seqlab.registry import Paper, register

IF2 = "IF2Net: Innately Forgetting-Free Networks for Continual Learning"


class RandomFeatureNet(nn.Module):
    """Frozen random ReLU layer + output weights ``W`` held as a buffer (learned in closed form)."""

    def __init__(self, d_in: int, n_outputs: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.register_buffer("A", torch.randn(hidden, d_in, generator=generator) / d_in**0.5)
        self.register_buffer("a", torch.randn(hidden, generator=generator) * 0.1)
        self.register_buffer("W", torch.zeros(hidden, n_outputs))

    def features(self, x):
        return torch.relu(x @ self.A.T + self.a)

    def forward(self, x):
        return self.features(x) @ self.W


def rls_update(W: torch.Tensor, P: torch.Tensor, H: torch.Tensor, Y: torch.Tensor):
    """One recursive-least-squares step on a chunk (``H (b, m)``, ``Y (b, C)``); returns new ``W, P``."""
    S = torch.eye(len(H), dtype=H.dtype) + H @ P @ H.T
    K = torch.linalg.solve(S, H @ P).T  # (m, b) = P H^T S^{-1}  (S, P symmetric)
    return W + K @ (Y - H @ W), P - K @ H @ P


@register(
    "strategy",
    "if2net",
    implements=Paper(IF2, "2306.10480"),
    used_by=[IF2],
    scenarios=("task", "domain", "class"),
    family="frozen-features",
)
class IF2Net(Strategy):
    """Frozen random hidden layer; output weights updated orthogonally to old inputs (RLS)."""

    name = "if2net"
    vector_only = True
    trains = False

    def __init__(self, seed: int = 0, hidden: int = 1000, alpha: float = 1e-3, chunk: int = 200, **kw):
        super().__init__(seed, **kw)
        self.hidden, self.alpha, self.chunk = hidden, alpha, chunk
        self.P = None

    def build_model(self):
        g = torch.Generator().manual_seed(self.seed)
        return RandomFeatureNet(self.stream.input_dim, self.stream.n_outputs, self.hidden, g)

    def after_experience(self, model, exp):
        if self.P is None:
            self.P = torch.eye(self.hidden, dtype=torch.float64) / self.alpha
        H = model.features(exp.x_train).double()
        Y = torch.nn.functional.one_hot(exp.y_train, self.stream.n_outputs).double()
        W = model.W.double()
        for s in range(0, len(H), self.chunk):
            W, self.P = rls_update(W, self.P, H[s : s + self.chunk], Y[s : s + self.chunk])
        model.W.copy_(W.float())

    def state(self):
        return {} if self.P is None else {"P": self.P}

    def load_state(self, model, state):
        self.P = state.get("P")
