"""The Elman RNN mixer (optionally bidirectional, or the stable reparameterisation).

LSTM and GRU live in :mod:`seqlab.mixers.lstm` and :mod:`seqlab.mixers.gru`, their shared body in
:mod:`seqlab.mixers.recurrent_base`; the three cells are written out here together.

Catalogued in "A Critical Review of Recurrent Neural Networks for Sequence Learning" (Lipton et al.,
arXiv 1506.00019); LSTM: Hochreiter & Schmidhuber, Neural Computation 1997 (with the forget gate of
Gers et al. 2000); GRU: "Learning Phrase Representations using RNN Encoder-Decoder for Statistical
Machine Translation", arXiv 1406.1078. For input ``x_t`` and hidden size ``H`` (per layer)::

    rnn:   h_t = tanh(W_i x_t + b_i + W_h h_{t-1} + b_h)
    lstm:  i, f, g, o = sigma, sigma, tanh, sigma (W_i x_t + b_i + W_h h_{t-1} + b_h)
           c_t = f * c_{t-1} + i * g,            h_t = o * tanh(c_t)
    gru:   r, z = sigma(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
           n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}
    y_t = W_o h_t   (last layer; both directions concatenated when bidirectional)

The parallel path is the fused ``torch.nn.RNN/LSTM/GRU`` loop; :func:`cell_loop` evaluates the
equations above from the same weights (the reference, ``mode="loop"``). State, batch first:
``h (batch, n_layers, H)`` or ``(h, c)`` for the LSTM. ``bidirectional=True`` makes the mixer
non-causal and parallel-only. ``rnn`` with ``stable=True`` uses the stable reparameterisation of
"Inverse Approximation Theory for Nonlinear Recurrent Neural Networks" (arXiv 2305.19190), see
:class:`StableRNN`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.recurrent_base import CATALOG_TITLE, RecurrentMixer
from seqlab.registry import Paper, register


class StableRNN(nn.Module):
    """Elman-type RNN with a stable recurrent weight ("Inverse Approximation Theory for Nonlinear
    Recurrent Neural Networks", arXiv 2305.19190), per layer, as the Euler step of
    ``dh/dt = tanh(U x + b + W h)``::

        W   = -P^T diag(softplus(w)) P        (symmetric, eigenvalues <= 0 for every P, w)
        h_t = h_{t-1} + dt * tanh(U x_t + b + W h_{t-1})

    The continuous-time dynamics are stable by construction; the Euler step's linearisation is
    stable while ``dt * softplus(w) < 2`` (``softplus(w)`` starts log-uniform in [0.01, 1]).
    """

    def __init__(self, d_in: int, d_hidden: int, n_layers: int, dt: float):
        super().__init__()
        self.dt = dt
        self.inp = nn.ModuleList(nn.Linear(d_in if i == 0 else d_hidden, d_hidden) for i in range(n_layers))
        rates = torch.logspace(-2, 0, d_hidden).repeat(n_layers, 1)
        self.w = nn.Parameter(rates + torch.log(-torch.expm1(-rates)))  # softplus(w) = rates
        self.P = nn.Parameter(torch.linalg.qr(torch.randn(n_layers, d_hidden, d_hidden))[0])

    def recurrent_matrix(self, layer: int) -> torch.Tensor:
        P = self.P[layer]
        return -(P.T * F.softplus(self.w[layer])) @ P

    def forward(self, x, h0):
        """``x (b, l, d)``, ``h0 (n_layers, b, H)`` -> (outputs of the last layer, final h per layer)."""
        finals = []
        for layer, inp in enumerate(self.inp):
            u, W, h, out = inp(x), self.recurrent_matrix(layer).to(x.dtype), h0[layer], []
            for t in range(x.shape[1]):
                h = h + self.dt * torch.tanh(u[:, t] + h @ W.T)
                out.append(h)
            x = torch.stack(out, dim=1)
            finals.append(h)
        return x, torch.stack(finals)


INVERSE_TITLE = "Inverse Approximation Theory for Nonlinear Recurrent Neural Networks"


@register(
    "mixer",
    "rnn",
    implements=(
        Paper("Finding Structure in Time", venue="Cognitive Science 14(2), 1990"),
        Paper(INVERSE_TITLE, "2305.19190"),
    ),
    used_by=[CATALOG_TITLE, INVERSE_TITLE],
)
class ElmanRNN(RecurrentMixer):
    """Elman RNN mixer (arXiv 1506.00019): h_t = tanh(W_i x_t + W_h h_{t-1} + b), y_t = W_o h_t.

    ``stable=True`` swaps in :class:`StableRNN` (arXiv 2305.19190), the stable reparameterisation
    ``h_t = h_{t-1} + dt * tanh(U x_t + b - P^T diag(softplus(w)) P h_{t-1})``; it runs as a loop
    in every mode (there is no fused kernel for it) and is unidirectional.
    """

    kind = "rnn"

    def __init__(
        self,
        d_model: int,
        d_hidden: int | None = None,
        n_layers: int = 1,
        bidirectional: bool = False,
        mode: str = "fused",
        stable: bool = False,
        dt: float = 0.5,
    ):
        super().__init__(d_model, d_hidden, n_layers, bidirectional, mode)
        if stable and bidirectional:
            raise ValueError("rnn expects bidirectional=False with stable=True")
        if not dt > 0:
            raise ValueError(f"rnn expects a positive Euler step dt, got {dt!r}")
        self.stable = stable
        if stable:
            self.rnn = StableRNN(d_model, self.d_hidden, n_layers, dt)

    def _run(self, x, state, mode):
        if not self.stable:
            return super()._run(x, state, mode)
        y, h = self.rnn(x, self._unpack(state, x)[0])
        return self.out(y), self._pack((h,))
