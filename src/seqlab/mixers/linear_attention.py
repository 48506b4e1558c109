"""Linear attention and retention: matrix-state recurrences computed with :mod:`seqlab.ops.gla`.

Both keep per head a state ``S_t = g S_{t-1} + k_t v_t^T`` (``d_head x d_head``) and read it with the
query, ``o_t = S_t^T q_t``. Parallel mode and chunked mode run :func:`~seqlab.ops.gla.gla_chunked`
(the chunked mode from a carried state), step mode runs :func:`~seqlab.ops.gla.gla_step`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.gla import gla_chunked, gla_step
from seqlab.registry import register


class _MatrixStateMixer(Mixer):
    """Shared plumbing: heads, the three modes, and the matrix state ``(batch, heads, d_k, d_v)``."""

    modes = ("parallel", "chunked", "step")
    state_growth = "constant"

    def __init__(self, d_model: int, n_heads: int, d_v: int, chunk: int = 64):
        super().__init__(d_model)
        if not isinstance(n_heads, int) or n_heads < 1 or d_model % n_heads:
            raise ValueError(f"n_heads must be a positive divisor of d_model={d_model}, got {n_heads!r}")
        self.n_heads, self.d_head, self.d_v, self.chunk = n_heads, d_model // n_heads, d_v, chunk

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        """(B, L, H * d) -> (B, H, L, d)."""
        return t.unflatten(-1, (self.n_heads, -1)).transpose(1, 2)

    # subclasses: project inputs to (q, k, v, log_g) in (B, H, L, .) layout, and map (B, H, L, d_v) back
    def _qkvg(self, x):
        raise NotImplementedError

    def _output(self, o, x):
        raise NotImplementedError

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = dtype or self.param_dtype()
        return torch.zeros(batch, self.n_heads, self.d_head, self.d_v, device=device, dtype=dtype)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v, log_g = self._qkvg(x)
        return self._output(gla_chunked(q, k, v, log_g, chunk=self.chunk)[0], x)

    def _forward_with_state(self, x, state):
        q, k, v, log_g = self._qkvg(x)
        o, state = gla_chunked(q, k, v, log_g, initial_state=state, chunk=self.chunk)
        return self._output(o, x), state

    def _step(self, x_t, state):
        q, k, v, log_g = (t[:, :, 0] for t in self._qkvg(x_t[:, None]))
        o, state = gla_step(q, k, v, log_g, state)
        return self._output(o[:, :, None], x_t[:, None])[:, 0], state


@register(
    "mixer",
    "linear_attention",
    cites="Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention, arXiv 2006.16236",
    modes=("parallel", "chunked", "step"),
    state_size="n_heads * d_head * (d_head + 1)",
    test_cfg={"n_heads": 2},
)
class LinearAttention(_MatrixStateMixer):
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


@register(
    "mixer",
    "retention",
    cites="Retentive Network: A Successor to Transformer for Large Language Models, arXiv 2307.08621",
    modes=("parallel", "chunked", "step"),
    state_size="n_heads * d_head * v_expand * d_head",
    test_cfg={"n_heads": 2},
)
class Retention(_MatrixStateMixer):
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
