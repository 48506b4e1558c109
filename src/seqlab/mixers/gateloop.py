"""GateLoop: data-controlled complex diagonal linear recurrence.

Paper: "GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling", arXiv 2311.01927.

Per head, with real ``q_t, k_t`` (key dim ``d_k``), ``v_t`` (value dim ``d_v``) and a complex
transition ``a_t`` on the key dims, all computed from ``x_t``::

    a_t = sigmoid(w_t) * exp(i * theta_t)                       (|a_t| < 1, data-controlled phase)
    S_t = diag(a_t) S_{t-1} + k_t v_t^T                          (S_t: complex d_k x d_v)
    y_t = Re(q_t^T S_t)
        = sum_{s<=t} sum_j q_tj k_sj exp(L_tj - L_sj) cos(P_tj - P_sj) v_s

with ``L_t = sum_{r<=t} log sigmoid(w_r)`` and ``P_t = sum_{r<=t} theta_r`` (the surrogate attention).
The head outputs are RMS-normalised, gated by ``silu(W_g x)`` and projected back to ``d_model``.

Three evaluations (``mode=``) that agree: ``"recurrent"`` (the sequential loop, reference),
``"scan"`` (default: :func:`~seqlab.ops.scan.scan_chunked` over the diagonal recurrence, run in
time blocks that are recomputed in backward so memory stays bounded at long lengths) and
``"attention"`` (the O(L^2) surrogate attention; the log-magnitude differences are masked to
``-inf`` above the diagonal before ``exp``, so no positive exponent is ever exponentiated).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.blockwise import scan_in_blocks
from seqlab.ops.norm import rms_norm
from seqlab.ops.scan import scan_chunked
from seqlab.registry import Paper, register

MODES = ("scan", "recurrent", "attention")


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _scan_block(chunk: int):
    def fn(s0, log_mag, phase, q, k, v):
        a = torch.polar(log_mag.exp(), phase).unsqueeze(-1)  # (b, l, h, dk, 1)
        kv = (k.unsqueeze(-1) * v.unsqueeze(-2)).to(a.dtype)  # (b, l, h, dk, dv)
        states = scan_chunked(a, kv, s0, chunk=min(chunk, a.shape[1]))  # no padding of short blocks
        return torch.einsum("blhk,blhkv->blhv", q, states.real), states[:, -1].clone()

    return fn


def gateloop_recurrent(s0, log_mag, phase, q, k, v):
    """Reference: the sequential loop ``S_t = a_t S_{t-1} + k_t v_t^T``, ``y_t = Re(q_t^T S_t)``."""
    a = torch.polar(log_mag.exp(), phase)
    s, ys = s0, []
    for t in range(q.shape[1]):
        kv = (k[:, t].unsqueeze(-1) * v[:, t].unsqueeze(-2)).to(s.dtype)
        s = a[:, t].unsqueeze(-1) * s + kv
        ys.append(torch.einsum("bhk,bhkv->bhv", q[:, t], s.real))
    return torch.stack(ys, dim=1), s


def gateloop_attention(s0, log_mag, phase, q, k, v):
    """The O(L^2) surrogate attention with cumulative log-gates, plus the carried state ``s0``."""
    lr, ph = log_mag.cumsum(1), phase.cumsum(1)  # (b, l, h, dk)
    n = q.shape[1]
    future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)[None, :, :, None, None]
    dm = (lr[:, :, None] - lr[:, None, :]).masked_fill(future, float("-inf"))  # (b, t, s, h, dk)
    decay = dm.exp() * torch.cos(ph[:, :, None] - ph[:, None, :])
    scores = torch.einsum("bthk,bshk,btshk->bths", q, k, decay)
    y = torch.einsum("bths,bshv->bthv", scores, v)
    # contribution of the state entering the block: Re(q_t^T diag(exp(L_t + i P_t)) S0)
    mag = lr.exp()
    y = y + torch.einsum("bthk,bhkv->bthv", q * mag * ph.cos(), s0.real)
    y = y - torch.einsum("bthk,bhkv->bthv", q * mag * ph.sin(), s0.imag)
    # final state: S_n = exp(c_n) S0 + sum_s exp(c_n - c_s) k_s v_s^T, exponents have real part <= 0
    to_end = torch.polar((lr[:, -1:] - lr).exp(), ph[:, -1:] - ph)
    s = torch.einsum("bshk,bshv->bhkv", to_end * k, v.to(to_end.dtype))
    s = s + torch.polar(lr[:, -1].exp(), ph[:, -1]).unsqueeze(-1) * s0
    return y, s


@register(
    "mixer",
    "gateloop",
    implements=Paper("GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling", "2311.01927"),
    used_by=["GateLoop: Fully Data-Controlled Linear Recurrence for Sequence Modeling"],
)
class GateLoop(Mixer):
    """GateLoop mixer (arXiv 2311.01927): S_t = diag(a_t) S_{t-1} + k_t v_t^T, y_t = Re(q_t^T S_t)."""

    modes = ("parallel", "chunked", "step")
    state_size = "n_heads * d_k * d_v (complex)"
    state_growth = "constant"
    upcast_low_precision = True  # complex/FFT math: float32 inside a half/bf16 mixer

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        d_k: int | None = None,
        d_v: int | None = None,
        mode: str = "scan",
        chunk: int = 64,
        block: int | None = None,
    ):
        super().__init__(d_model, causal=True)
        if mode not in MODES:
            raise ValueError(f"GateLoop mode must be one of {MODES}, got {mode!r}")
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(f"GateLoop expects n_heads >= 1 dividing d_model={d_model}, got {n_heads}")
        if chunk < 1 or (block is not None and block < 1):
            raise ValueError(f"GateLoop expects chunk >= 1 and block >= 1 or None, got {chunk}, {block}")
        self.n_heads = n_heads
        self.d_k = d_k or d_model // n_heads
        self.d_v = d_v or d_model // n_heads
        self.mode, self.chunk, self.block = mode, chunk, block
        hk, hv = n_heads * self.d_k, n_heads * self.d_v
        self.qkv = nn.Linear(d_model, 2 * hk + hv, bias=False)
        self.gates = nn.Linear(d_model, 2 * hk)  # magnitude logits, phase
        self.out_gate = nn.Linear(d_model, hv)
        self.out = nn.Linear(hv, d_model, bias=False)
        with torch.no_grad():  # magnitudes start in [0.9, 0.999]: a spread of long memories
            p = torch.linspace(0.9, 0.999, self.d_k).repeat(n_heads)
            self.gates.bias[:hk] = torch.log(p / (1 - p))
            self.gates.bias[hk:] = 0.0

    # -- pieces --------------------------------------------------------------------------
    def _project(self, x):
        b, n, _ = x.shape
        h, dk, dv = self.n_heads, self.d_k, self.d_v
        q, k, v = self.qkv(x).split([h * dk, h * dk, h * dv], dim=-1)
        w, theta = self.gates(x).split([h * dk, h * dk], dim=-1)
        shape_k, shape_v = (b, n, h, dk), (b, n, h, dv)
        q = q.view(shape_k) * dk**-0.5
        return F.logsigmoid(w).view(shape_k), theta.view(shape_k), q, k.view(shape_k), v.view(shape_v)

    def _finish(self, x, y):
        y = rms_norm(y, eps=1e-6).flatten(2)
        return self.out(y * F.silu(self.out_gate(x)))

    def _mix(self, x, s0):
        args = self._project(x)
        if self.mode == "recurrent":
            return gateloop_recurrent(s0, *args)
        if self.mode == "attention":
            return gateloop_attention(s0, *args)
        return scan_in_blocks(_scan_block(self.chunk), s0, args, self.block)

    # -- contract ------------------------------------------------------------------------
    def init_state(self, batch: int, device=None, dtype=None):
        real = dtype or self.qkv.weight.dtype
        shape = (batch, self.n_heads, self.d_k, self.d_v)
        return torch.zeros(shape, device=device, dtype=complex_dtype(real))

    def _forward_with_state(self, x: torch.Tensor, state):
        y, s = self._mix(x, state.to(complex_dtype(x.dtype)))  # a no-op except under autocast
        return self._finish(x, y), s

    def _step(self, x_t: torch.Tensor, state):
        x = x_t.unsqueeze(1)
        y, s = gateloop_recurrent(state.to(complex_dtype(x.dtype)), *self._project(x))
        return self._finish(x, y)[:, 0], s
