"""Shared body of the classic recurrent mixers (Elman RNN, LSTM, GRU); no mixer is registered here.

Catalogued in "A Critical Review of Recurrent Neural Networks for Sequence Learning" (Lipton et al.,
arXiv 1506.00019). :class:`RecurrentMixer` runs the fused ``torch.nn.RNN/LSTM/GRU`` (in segments of
at most ``FUSED_MAX_STEPS``); :func:`cell_loop` evaluates the cell equations (given in
:mod:`seqlab.mixers.rnn`) from the same weights, the reference. State, batch first:
``h (batch, n_layers, H)`` or ``(h, c)`` for the LSTM.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.mixers.base import Mixer

CATALOG_TITLE = "A Critical Review of Recurrent Neural Networks for Sequence Learning"

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
        parts = state if self.kind == "lstm" else (state,)
        return tuple(p.to(x.dtype).transpose(0, 1).contiguous() for p in parts)  # .to: for autocast

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
        return self._run(x, self.init_state(x.shape[0], x.device, x.dtype), self.mode)[0]

    def _forward_with_state(self, x: torch.Tensor, state):
        return self._run(x, state, self.mode)

    def _step(self, x_t: torch.Tensor, state):
        y, state = self._run(x_t.unsqueeze(1), state, "loop")
        return y[:, 0], state
