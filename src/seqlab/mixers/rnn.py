"""Classic nonlinear recurrent mixers: Elman RNN, LSTM, GRU (optionally bidirectional).

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

from seqlab.mixers.base import Mixer
from seqlab.registry import register

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# Longest sequence handed to the fused kernel in one call: cuDNN refused 65536 steps
# (CUDNN_STATUS_NOT_SUPPORTED, H100, torch 2.11) and ran 16384. Longer inputs run in segments with
# the state carried (the same function); bidirectional ones run with cuDNN off.
FUSED_MAX_STEPS = 16384


def _cell(kind: str, x, h, c, w_ih, w_hh, b_ih, b_hh):
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "rnn":
        return torch.tanh(gi + gh), None
    if kind == "lstm":
        i, f, g, o = (gi + gh).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    ir, iz, i_n = gi.chunk(3, dim=-1)
    hr, hz, h_n = gh.chunk(3, dim=-1)
    r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h, None


def cell_loop(kind: str, module: nn.RNNBase, x, h0, c0=None):
    """Reference: the cell equations, layer by layer and step by step, with ``module``'s weights.

    ``x (b, l, d)``, ``h0, c0 (n_layers, b, H)`` (unidirectional); returns (outputs, h, c)."""
    hs, cs = [], []
    for layer in range(module.num_layers):
        w = [getattr(module, f"{n}_l{layer}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h, c, out = h0[layer], None if c0 is None else c0[layer], []
        for t in range(x.shape[1]):
            h, c = _cell(kind, x[:, t], h, c, *w)
            out.append(h)
        x = torch.stack(out, dim=1)
        hs.append(h)
        cs.append(c)
    return x, torch.stack(hs), None if c0 is None else torch.stack(cs)


class RecurrentMixer(Mixer):
    """Shared body of the Elman RNN, LSTM and GRU mixers (arXiv 1506.00019)."""

    kind = "rnn"
    state_size = "n_layers * d_hidden"
    state_growth = "constant"

    def __init__(
        self,
        d_model: int,
        d_hidden: int | None = None,
        n_layers: int = 1,
        bidirectional: bool = False,
        mode: str = "fused",
    ):
        super().__init__(d_model, causal=not bidirectional)
        if mode not in ("fused", "loop"):
            raise ValueError(f"{type(self).__name__} mode must be 'fused' or 'loop', got {mode!r}")
        if mode == "loop" and bidirectional:
            raise ValueError(f"{type(self).__name__} expects mode='fused' when bidirectional")
        if not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"{type(self).__name__} expects n_layers to be a positive int, got {n_layers!r}")
        self.d_hidden = d_hidden or d_model
        self.n_layers, self.bidirectional, self.mode = n_layers, bidirectional, mode
        self.modes = ("parallel",) if bidirectional else ("parallel", "chunked", "step")
        self.rnn = CELLS[self.kind](
            d_model, self.d_hidden, num_layers=n_layers, batch_first=True, bidirectional=bidirectional
        )
        self.out = nn.Linear(self.d_hidden * (2 if bidirectional else 1), d_model)

    # -- state (batch first outside, layer first inside torch.nn.RNN) -------------------------
    def init_state(self, batch: int, device=None, dtype=None):
        if self.bidirectional:
            return super().init_state(batch, device, dtype)
        h = torch.zeros(batch, self.n_layers, self.d_hidden, device=device, dtype=dtype or self.param_dtype())
        return (h, h.clone()) if self.kind == "lstm" else h

    def _unpack(self, state, x):
        """Batch-first state (from the base class's check) -> layer-first tensors for torch.nn.RNN."""
        if state is None:
            state = self.init_state(x.shape[0], x.device, x.dtype)
        parts = state if self.kind == "lstm" else (state,)
        return tuple(p.transpose(0, 1).contiguous() for p in parts)

    def _pack(self, parts):
        parts = tuple(p.transpose(0, 1) for p in parts)
        return parts if self.kind == "lstm" else parts[0]

    def _run(self, x, state, mode):
        parts = self._unpack(state, x)
        if mode == "loop":
            y, h, c = cell_loop(self.kind, self.rnn, x, *parts)
            new = (h, c) if self.kind == "lstm" else (h,)
        else:
            ys, new = [], parts
            for start in range(0, x.shape[1], FUSED_MAX_STEPS):
                segment = x[:, start : start + FUSED_MAX_STEPS]
                y, new = self.rnn(segment, new if self.kind == "lstm" else new[0])
                ys.append(y)
                new = new if self.kind == "lstm" else (new,)
            y = torch.cat(ys, dim=1) if len(ys) > 1 else ys[0]
        return self.out(y), self._pack(new)

    # -- contract ------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bidirectional:
            with torch.backends.cudnn.flags(enabled=x.shape[1] <= FUSED_MAX_STEPS):
                return self.out(self.rnn(x)[0])
        return self._run(x, None, self.mode)[0]

    def _forward_with_state(self, x: torch.Tensor, state):
        return self._run(x, state, self.mode)

    def _step(self, x_t: torch.Tensor, state):
        y, state = self._run(x_t.unsqueeze(1), state, "loop")
        return y[:, 0], state


CATALOG_TITLE = "A Critical Review of Recurrent Neural Networks for Sequence Learning"
MODES_INFO = "parallel, chunked, step (parallel only if bidirectional)"


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


@register("mixer", "rnn", papers=[CATALOG_TITLE, INVERSE_TITLE], modes=MODES_INFO, state="h per layer")
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


@register(
    "mixer",
    "lstm",
    papers=[CATALOG_TITLE],
    state="(h, c) per layer",
    cites="Long Short-Term Memory, Hochreiter & Schmidhuber, Neural Computation 1997",
    modes=MODES_INFO,
)
class LSTM(RecurrentMixer):
    """LSTM mixer (arXiv 1506.00019): c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t), y_t = W_o h_t."""

    kind = "lstm"
    state_size = "2 * n_layers * d_hidden"


@register(
    "mixer",
    "gru",
    papers=[CATALOG_TITLE],
    state="h per layer",
    cites="Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine "
    "Translation, arXiv 1406.1078",
    modes=MODES_INFO,
)
class GRU(RecurrentMixer):
    """GRU mixer (arXiv 1506.00019, 1406.1078): h_t = (1 - z) * n + z * h_{t-1}, y_t = W_o h_t."""

    kind = "gru"
