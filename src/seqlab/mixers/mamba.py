"""Selective state-space mixer (S6, the Mamba block).

Paper: "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", arXiv 2312.00752.
Analysed in "On the Expressivity of Selective State-Space Layers: A Multivariate Polynomial
Approach" and "Generalization Error Analysis for Selective State-Space Models Through the Lens of
Attention".

For input ``u_t`` (``d_model``), with ``d_inner = expand * d_model`` channels and ``d_state`` N::

    (x_t, z_t) = W_in u_t
    x_t       <- silu(causal depthwise conv_4(x)_t)          (the last 3 inputs are part of the state)
    delta_t   = softplus(W_dt (W_r x_t) + b_dt)               (low rank dt_rank, per channel)
    B_t, C_t  = W_B x_t, W_C x_t                              (N each, shared by the channels)
    h_t       = exp(delta_t A) * h_{t-1} + delta_t B_t x_t    (ZOH for A, Euler for B; h: d_inner x N)
    y_t       = W_out ((C_t . h_t + D * x_t) * silu(z_t))

with ``A = -exp(A_log)`` initialised S4D-real (``A_n = -(n + 1)``). The parallel path runs
:func:`~seqlab.ops.scan.scan_chunked` over ``(batch, L, d_inner, N)`` in time blocks that are
recomputed in backward (bounded memory), or with ``backend="triton"`` (default on CUDA when Triton is
installed) the fused kernel of :mod:`seqlab.ops.selective_scan`; ``mode="loop"`` is the sequential
reference.
State: ``(conv cache (batch, d_conv - 1, d_inner), h (batch, d_inner, N))``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.blockwise import scan_in_blocks
from seqlab.ops.gla_triton import triton_installed
from seqlab.ops.scan import scan_chunked
from seqlab.ops.selective_scan import selective_scan
from seqlab.registry import Paper, register


def _discretize(delta, A, B, x):
    """ZOH for A, Euler for B: (exp(delta A), delta B x) of shape (b, l, d_inner, N)."""
    d = delta.unsqueeze(-1)
    return torch.exp(d * A), d * B.unsqueeze(2) * x.unsqueeze(-1)


def selective_loop(h0, delta, A, B, C, x):
    """Reference: ``h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t``, ``y_t = C_t . h_t`` step by step."""
    h, ys = h0, []
    for t in range(x.shape[1]):
        d = delta[:, t].unsqueeze(-1)
        h = torch.exp(d * A) * h + d * B[:, t].unsqueeze(1) * x[:, t].unsqueeze(-1)
        ys.append((h * C[:, t].unsqueeze(1)).sum(-1))
    return torch.stack(ys, dim=1), h


def _scan_block(A, chunk):
    def fn(h0, delta, B, C, x):
        da, dbx = _discretize(delta, A, B, x)
        h = scan_chunked(da, dbx, h0, chunk=min(chunk, da.shape[1]))  # no padding of short blocks
        return torch.einsum("bldn,bln->bld", h, C), h[:, -1].clone()

    return fn


@register(
    "mixer",
    "mamba",
    implements=Paper("Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "2312.00752"),
    used_by=[
        "On the Expressivity of Selective State-Space Layers: A Multivariate Polynomial Approach",
        "Generalization Error Analysis for Selective State-Space Models Through the Lens of Attention",
        "Samba: Simple Hybrid State Space Models for Efficient Unlimited Context Language Modeling",
    ],
)
class Mamba(Mixer):
    """Mamba / S6 selective SSM (arXiv 2312.00752): h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t."""

    modes = ("parallel", "chunked", "step")
    state_size = "expand * d_model * (d_state + d_conv - 1)"
    state_growth = "constant"

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        expand: int = 2,
        d_conv: int = 4,
        dt_rank: int | None = None,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        mode: str = "scan",
        chunk: int = 64,
        block: int | None = None,
        backend: str | None = None,
    ):
        super().__init__(d_model, causal=True)
        if mode not in ("scan", "loop"):
            raise ValueError(f"Mamba mode must be 'scan' or 'loop', got {mode!r}")
        if block is not None and (not isinstance(block, int) or block < 1):
            raise ValueError(f"Mamba expects block to be a positive int or None, got {block!r}")
        for name, val in (("d_state", d_state), ("expand", expand), ("d_conv", d_conv), ("chunk", chunk)):
            if not isinstance(val, int) or val < 1:
                raise ValueError(f"Mamba expects {name} to be a positive int, got {val!r}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"Mamba expects 0 < dt_min <= dt_max, got {dt_min}, {dt_max}")
        if backend not in (None, "torch", "triton"):
            raise ValueError(f"Mamba expects backend None, 'torch' or 'triton', got {backend!r}")
        self.d_state, self.d_conv, self.mode, self.chunk, self.block = d_state, d_conv, mode, chunk, block
        self.backend = backend
        self.d_inner = di = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * di, bias=False)
        self.conv = nn.Conv1d(di, di, d_conv, groups=di)
        self.x_proj = nn.Linear(di, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, di)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(di, 1))
        self.A_log._no_weight_decay = True  # Mamba excludes A_log from weight decay (train/optim.py)
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, d_model, bias=False)
        with torch.no_grad():  # delta starts log-uniform in [dt_min, dt_max] (bias = softplus^-1)
            dt = torch.exp(torch.linspace(math.log(dt_min), math.log(dt_max), di))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    # -- pieces --------------------------------------------------------------------------
    def _inputs(self, u, conv_cache):
        """From u (b, l, d_model) and the conv cache: (delta, B, C, x, z, new conv cache)."""
        x, z = self.in_proj(u).chunk(2, dim=-1)
        xs = torch.cat([conv_cache, x], dim=1)  # (b, d_conv - 1 + l, d_inner)
        x = F.silu(self.conv(xs.transpose(1, 2)).transpose(1, 2))
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        return delta, B, C, x, z, xs[:, xs.shape[1] - (self.d_conv - 1) :]

    def _mix(self, u, state, mode):
        conv_cache, h0 = (s.to(u.dtype) for s in state)  # a no-op except under autocast
        delta, B, C, x, z, cache = self._inputs(u, conv_cache)
        A = -torch.exp(self.A_log.to(u.dtype))
        if mode == "loop":
            y, h = selective_loop(h0, delta, A, B, C, x)
        elif self.backend == "triton" or (self.backend is None and u.is_cuda and triton_installed()):
            y, h = selective_scan(delta, A, B, C, x, h0, chunk=self.chunk, backend="triton")
        else:
            y, h = scan_in_blocks(_scan_block(A, self.chunk), h0, (delta, B, C, x), self.block)
        y = (y + self.D * x) * F.silu(z)
        return self.out_proj(y), (cache, h)

    # -- contract ------------------------------------------------------------------------
    def init_state(self, batch: int, device=None, dtype=None):
        dtype = dtype or self.in_proj.weight.dtype
        return (
            torch.zeros(batch, self.d_conv - 1, self.d_inner, device=device, dtype=dtype),
            torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=dtype),
        )

    def _forward_with_state(self, x: torch.Tensor, state):
        return self._mix(x, state, self.mode)

    def _step(self, x_t: torch.Tensor, state):
        y, state = self._mix(x_t.unsqueeze(1), state, "loop")
        return y[:, 0], state
