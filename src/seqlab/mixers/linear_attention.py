"""Causal linear attention ("Transformers are RNNs", arXiv 2006.16236), a matrix-state recurrence.

Per head a state ``S_t = S_{t-1} + phi(k_t) v_t^T`` read by the query, ``o_t = S_t^T phi(q_t)``;
the modes come from :class:`~seqlab.mixers.matrix_state.MatrixStateMixer` (:mod:`seqlab.ops.gla`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.matrix_state import MatrixStateMixer
from seqlab.registry import Paper, register


@register(
    "mixer",
    "linear_attention",
    implements=Paper(
        "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention", "2006.16236"
    ),
    used_by=["On the Expressivity of Selective State-Space Layers: A Multivariate Polynomial Approach"],
    test_cfg={"n_heads": 2},
)
class LinearAttention(MatrixStateMixer):
    """Causal linear attention (Katharopoulos et al., arXiv 2006.16236).

    With the feature map ``phi(x) = elu(x) + 1``, per head::

        S_t = S_{t-1} + phi(k_t) v_t^T,    z_t = z_{t-1} + phi(k_t)
        o_t = S_t^T phi(q_t) / (phi(q_t) . z_t + eps)        (normalize=True)
        o_t = S_t^T phi(q_t)                                  (normalize=False)

    No decay (gate 1). ``z`` is carried as an extra value column of ones, so the state is
    ``(batch, heads, d_head, d_head + 1)`` (``d_head`` without normalisation).
    """

    state_size = "n_heads * d_head * (d_head + 1)"

    def __init__(self, d_model: int, n_heads: int = 4, normalize: bool = True, eps: float = 1e-6,
                 chunk: int = 64):
        d_head = d_model // n_heads if isinstance(n_heads, int) and n_heads > 0 else 1
        super().__init__(d_model, n_heads, d_head + int(normalize), chunk)
        self.normalize, self.eps = normalize, eps
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def _qkvg(self, x):
        q, k, v = (self._heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        q, k = F.elu(q) + 1, F.elu(k) + 1
        if self.normalize:
            v = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
        return q, k, v, q.new_zeros(q.shape[:3])

    def _output(self, o, x):
        if self.normalize:
            o = o[..., :-1] / (o[..., -1:] + self.eps)
        return self.out(o.transpose(1, 2).flatten(2))
