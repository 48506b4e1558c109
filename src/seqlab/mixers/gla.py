"""Gated linear attention (GLA; Yang et al., arXiv 2312.06635): a matrix state with per-key-dim gates.

Per head ``S_t = diag(alpha_t) S_{t-1} + k_t v_t^T``, ``o_t = S_t^T q_t``; the gate ``alpha_t`` has one
value per key dimension and depends on the input, which is what separates GLA from retention (one
fixed decay per head) and Mamba-2 (one input-dependent scalar per head). The modes come from
:class:`~seqlab.mixers.matrix_state.MatrixStateMixer` over :func:`seqlab.ops.gla.gla_chunked`, whose
in-chunk work runs as fused Triton kernels on CUDA (:mod:`seqlab.ops.gla_triton`).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

from seqlab.mixers.matrix_state import MatrixStateMixer
from seqlab.registry import Paper, register


@register(
    "mixer",
    "gla",
    implements=Paper("Gated Linear Attention Transformers with Hardware-Efficient Training", "2312.06635"),
    test_cfg={"n_heads": 2},
)
class GLA(MatrixStateMixer):
    """GLA layer (Yang et al., arXiv 2312.06635, section 4.4), per head ``h``::

        q, k = x W_q, x W_k   (d_k = key_ratio * d_model in all, k scaled by d_head^-1/2)
        v    = x W_v          (d_v = d_model)
        log alpha_t = logsigmoid(x W_a1 W_a2 + b_a) / tau       (low-rank gate, rank 16, tau = 16)
        S_t = diag(alpha_t) S_{t-1} + k_t v_t^T,   o_t = S_t^T q_t
        y = W_o (swish(x W_r) * GroupNorm_heads(o))

    The temperature ``tau`` keeps the gates near 1 at initialisation (slow forgetting), as in the paper.
    ``chunk`` defaults to 16: the per-dim decay makes the in-chunk work grow with the chunk.
    """

    state_size = "n_heads * d_head * d_model / n_heads"

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        key_ratio: float = 0.5,
        gate_rank: int = 16,
        tau: float = 16.0,
        chunk: int = 16,
        backend: str | None = None,
    ):
        if not isinstance(n_heads, int) or n_heads < 1 or d_model % n_heads:
            raise ValueError(f"n_heads must be a positive divisor of d_model={d_model}, got {n_heads!r}")
        d_key = int(round(key_ratio * d_model))
        if d_key < n_heads or d_key % n_heads:
            raise ValueError(
                f"key_ratio * d_model = {d_key} must be a positive multiple of n_heads={n_heads}; "
                f"got key_ratio={key_ratio!r}"
            )
        if not tau > 0:
            raise ValueError(f"tau must be positive, got {tau!r}")
        super().__init__(d_model, n_heads, d_model // n_heads, chunk)
        self.d_head = d_key // n_heads  # key width per head (the state is d_head x d_v)
        self.tau, self.backend = float(tau), backend
        self.q = nn.Linear(d_model, d_key, bias=False)
        self.k = nn.Linear(d_model, d_key, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.gate_down = nn.Linear(d_model, gate_rank, bias=False)
        self.gate_up = nn.Linear(gate_rank, d_key, bias=True)
        self.r = nn.Linear(d_model, d_model, bias=True)
        self.norm = nn.GroupNorm(n_heads, d_model)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def _qkvg(self, x):
        q, k, v = self._heads(self.q(x)), self._heads(self.k(x)), self._heads(self.v(x))
        log_g = self._heads(F.logsigmoid(self.gate_up(self.gate_down(x))) / self.tau)
        return q, k / math.sqrt(self.d_head), v, log_g

    def _output(self, o, x):
        o = o.transpose(1, 2).flatten(2)  # (B, L, H * d_v)
        o = self.norm(o.flatten(0, 1)).view_as(o)
        return self.out(F.silu(self.r(x)) * o)
