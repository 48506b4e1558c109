"""Multi-scale retention (RetNet, arXiv 2307.08621), a matrix-state recurrence with fixed decay.

Per head ``S_t = gamma_h S_{t-1} + k_t v_t^T``, ``o_t = S_t^T q_t``; the modes come from
:class:`~seqlab.mixers.matrix_state.MatrixStateMixer` (:mod:`seqlab.ops.gla`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.matrix_state import MatrixStateMixer
from seqlab.registry import Paper, register


@register(
    "mixer",
    "retention",
    implements=Paper("Retentive Network: A Successor to Transformer for Large Language Models", "2307.08621"),
    test_cfg={"n_heads": 2},
)
class Retention(MatrixStateMixer):
    """Multi-scale retention (Sun et al., RetNet, arXiv 2307.08621), without xPos.

    Per head ``h`` with fixed decay ``gamma_h = 1 - 2^(-5-h)``::

        S_t = gamma_h S_{t-1} + k_t v_t^T,    o_t = S_t^T q_t,   k scaled by d_head^-1/2
        y = W_o (swish(W_g x) * GroupNorm_heads(o))

    equivalently ``o = (Q K^T * D) V`` with ``D[t, s] = gamma^(t-s)`` for ``s <= t``. Values and
    the gate have ``v_expand * d_model`` channels (2 in the paper).
    """

    state_size = "n_heads * d_head * v_expand * d_head"

    def __init__(self, d_model: int, n_heads: int = 4, v_expand: int = 2, chunk: int = 64):
        d_head = d_model // n_heads if isinstance(n_heads, int) and n_heads > 0 else 1
        super().__init__(d_model, n_heads, v_expand * d_head, chunk)
        d_value = v_expand * d_model
        self.qk = nn.Linear(d_model, 2 * d_model, bias=False)
        self.v = nn.Linear(d_model, d_value, bias=False)
        self.gate = nn.Linear(d_model, d_value, bias=False)
        self.norm = nn.GroupNorm(n_heads, d_value)
        self.out = nn.Linear(d_value, d_model, bias=False)
        gammas = 1 - 2.0 ** (-5.0 - torch.arange(n_heads, dtype=torch.float64))
        self.register_buffer("log_gamma", gammas.log().float(), persistent=False)

    def _qkvg(self, x):
        q, k = (self._heads(t) for t in self.qk(x).chunk(2, dim=-1))
        v = self._heads(self.v(x))
        log_g = self.log_gamma.to(x.dtype)[None, :, None].expand(q.shape[:3])
        return q, k / math.sqrt(self.d_head), v, log_g

    def _output(self, o, x):
        o = o.transpose(1, 2).flatten(2)  # (B, L, H * d_v)
        o = self.norm(o.flatten(0, 1)).view_as(o)
        return self.out(F.silu(self.gate(x)) * o)
