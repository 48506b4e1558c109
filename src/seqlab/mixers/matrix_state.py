"""Shared body of the matrix-state mixers (linear attention, retention); no mixer is registered here.

Each keeps per head a state ``S_t = g_t S_{t-1} + k_t v_t^T`` (``d_k x d_v``) and reads it with the
query, ``o_t = S_t^T q_t``. Parallel and chunked modes run :func:`~seqlab.ops.gla.gla_chunked` (the
chunked mode from a carried state), step mode runs :func:`~seqlab.ops.gla.gla_step`. Papers: linear
attention (arXiv 2006.16236), RetNet (arXiv 2307.08621).
"""

from __future__ import annotations

import torch

from seqlab.mixers.base import Mixer
from seqlab.ops.gla import gla_chunked, gla_step


class MatrixStateMixer(Mixer):
    """Shared plumbing: heads, the three modes, and the matrix state ``(batch, heads, d_k, d_v)``."""

    modes = ("parallel", "chunked", "step")
    state_growth = "constant"
    backend: str | None = None  # gla_chunked's backend (None: Triton on CUDA when installed, else PyTorch)

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
        return self._output(gla_chunked(q, k, v, log_g, chunk=self.chunk, backend=self.backend)[0], x)

    def _forward_with_state(self, x, state):
        q, k, v, log_g = self._qkvg(x)
        o, state = gla_chunked(q, k, v, log_g, initial_state=state, chunk=self.chunk, backend=self.backend)
        return self._output(o, x), state

    def _step(self, x_t, state):
        q, k, v, log_g = (t[:, :, 0] for t in self._qkvg(x_t[:, None]))
        o, state = gla_step(q, k, v, log_g, state)
        return self._output(o[:, :, None], x_t[:, None])[:, 0], state
