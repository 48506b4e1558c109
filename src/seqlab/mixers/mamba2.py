"""Mamba-2: the SSD layer (state space duality), computed chunk-wise with :mod:`seqlab.ops.gla`.

Dao & Gu, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured
State Space Duality", arXiv 2405.21060. Per head ``h`` (head dim ``P``, state dim ``N``, one group of
``B, C`` shared by all heads)::

    (z, xBC, dt) = W_in u;   (x, B, C) = silu(causal depthwise conv(xBC))
    dt_t = softplus(dt_t + dt_bias),   a_t = exp(dt_t A_h),   A_h = -exp(A_log_h) < 0
    h_t = a_t h_{t-1} + dt_t B_t x_t^T        (N x P)
    y_t = h_t^T C_t + D_h x_t
    out = W_out RMSNorm(y * silu(z))

The scalar-decay recurrence is :func:`~seqlab.ops.gla.gla_chunked` with ``q = C``, ``k = dt B``,
``v = x``, ``log_g = dt A``. The state is ``{"ssm": (batch, heads, N, P), "conv": (batch, d_conv - 1,
conv channels)}``, the conv's last inputs, so chunked and step modes continue the convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.gla import gla_chunked, gla_step
from seqlab.ops.norm import RMSNorm
from seqlab.registry import Paper, register


@register(
    "mixer",
    "mamba2",
    implements=Paper(
        "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State "
        "Space Duality",
        "2405.21060",
    ),
    test_cfg={"d_state": 8, "head_dim": 8},
)
class Mamba2(Mixer):
    """Mamba-2 SSD mixer (arXiv 2405.21060); see the module docstring for the recurrence."""

    modes = ("parallel", "chunked", "step")
    state_size = "n_heads * d_state * head_dim + (d_conv - 1) * (d_inner + 2 * d_state)"
    state_growth = "constant"

    def __init__(
        self,
        d_model: int,
        d_state: int = 32,
        head_dim: int = 32,
        expand: int = 2,
        d_conv: int = 4,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
        chunk: int = 64,
    ):
        super().__init__(d_model)
        d_inner = expand * d_model
        if head_dim < 1 or d_inner % head_dim:
            raise ValueError(f"head_dim must divide expand * d_model = {d_inner}, got {head_dim}")
        if d_state < 1 or d_conv < 1:
            raise ValueError(f"d_state and d_conv must be >= 1, got {d_state}, {d_conv}")
        self.d_inner, self.d_state, self.head_dim, self.d_conv, self.chunk = (
            d_inner, d_state, head_dim, d_conv, chunk
        )
        self.n_heads = d_inner // head_dim
        self.conv_dim = d_inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * d_inner + 2 * d_state + self.n_heads, bias=False)
        self.conv = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim)
        dt = torch.exp(torch.rand(self.n_heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.empty(self.n_heads).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(self.n_heads))
        self.norm = RMSNorm(d_inner)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = dtype or self.in_proj.weight.dtype
        return {
            "ssm": torch.zeros(batch, self.n_heads, self.d_state, self.head_dim, device=device, dtype=dtype),
            "conv": torch.zeros(batch, self.d_conv - 1, self.conv_dim, device=device, dtype=dtype),
        }

    def _project(self, u, conv_state):
        """``u: (B, L, d_model)`` -> ((q, k, v, log_g) for the op, gate ``z``, ``x``, new conv state)."""
        z, xbc, dt = self.in_proj(u).split([self.d_inner, self.conv_dim, self.n_heads], dim=-1)
        window = torch.cat([conv_state, xbc], dim=1)  # (B, d_conv - 1 + L, conv_dim)
        xbc = F.silu(self.conv(window.transpose(1, 2)).transpose(1, 2))
        new_conv = window[:, window.shape[1] - (self.d_conv - 1):]
        x, b, c = xbc.split([self.d_inner, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(dt + self.dt_bias).transpose(1, 2)  # (B, H, L)
        log_g = dt * -torch.exp(self.A_log)[:, None]
        x = x.unflatten(-1, (self.n_heads, self.head_dim)).transpose(1, 2)  # (B, H, L, P)
        q = c[:, None].expand(-1, self.n_heads, -1, -1)
        k = b[:, None] * dt[..., None]
        return (q, k, x, log_g), z, x, new_conv

    def _output(self, y, x, z):
        y = y + self.D[:, None, None] * x
        y = y.transpose(1, 2).flatten(2)
        return self.out_proj(self.norm(y * F.silu(z)))

    def _forward_with_state(self, x, state):
        op_in, z, xh, conv = self._project(x, state["conv"])
        y, ssm = gla_chunked(*op_in, initial_state=state["ssm"], chunk=self.chunk)
        return self._output(y, xh, z), {"ssm": ssm, "conv": conv}

    def _step(self, x_t, state):
        op_in, z, xh, conv = self._project(x_t[:, None], state["conv"])
        y, ssm = gla_step(*(t[:, :, 0] for t in op_in), state["ssm"])
        return self._output(y[:, :, None], xh, z)[:, 0], {"ssm": ssm, "conv": conv}
