"""S4D: the diagonal structured state-space mixer.

S4D: Gu, Gupta, Goel, Re, "On the Parameterization and Initialization of Diagonal State Space
Models", arXiv 2206.11893. ``A = diag(lambda)`` with S4D-Lin / S4D-Inv init, ZOH or bilinear;
Vandermonde kernel ``K_k = 2 Re sum_n C_n dB_n dA_n^k``; recurrent view
``x_t = dA x_{t-1} + dB u_t``, ``y_t = 2 Re(C x_t) + D u_t`` by :func:`~seqlab.ops.scan.scan_chunked`.
"""

from __future__ import annotations

import torch

from seqlab.mixers.ssm_base import KERNEL_BLOCK_NUMEL, ComplexEigs, as_complex
from seqlab.ops.blockwise import map_blocks
from seqlab.ops.hippo import discretize_diag, s4d_init
from seqlab.ops.scan import scan_chunked
from seqlab.registry import Paper, register


@register("mixer", "s4d",
          implements=Paper("On the Parameterization and Initialization of Diagonal State Space Models",
                           "2206.11893"))
class S4D(ComplexEigs):
    """S4D (arXiv 2206.11893): diagonal complex SSM, Vandermonde kernel, scan for recurrence.

    ``x_t = dA x_{t-1} + dB u_t`` (N/2 complex states per channel), ``y_t = 2 Re(C x_t) + D u_t``,
    ``K_k = 2 Re sum_n C_n dB_n dA_n^k``.
    """

    state_size = "d_model * d_state / 2 (complex)"

    def __init__(self, d_model: int, d_state: int = 64, init: str = "lin", discretization: str = "zoh",
                 bidirectional: bool = False, dt_min: float = 1e-3, dt_max: float = 1e-1,
                 seed: int | None = None, chunk: int = 64):
        super().__init__(d_model, d_state, bidirectional, dt_min, dt_max, seed)
        if discretization not in ("zoh", "bilinear"):
            raise ValueError(f"unknown discretization {discretization!r}; valid: zoh, bilinear")
        self.discretization, self.chunk = discretization, chunk
        self._init_eigs(s4d_init(d_state, init), torch.ones(d_state // 2, dtype=torch.complex128))

    def discrete(self):
        """``(dA, dB, C)``, each (H, N/2) complex."""
        dt = torch.exp(self.log_dt)[:, None]
        da, db = discretize_diag(self.eigs(), as_complex(self.B), dt, self.discretization)
        return da, db, as_complex(self.C)

    def kernels(self, length: int):
        da, db, c = self.discrete()
        log_a = torch.exp(self.log_dt)[:, None] * self.eigs() if self.discretization == "zoh" else da.log()
        pos = torch.arange(length, dtype=self.log_dt.dtype, device=self.log_dt.device)
        block = max(1, KERNEL_BLOCK_NUMEL // log_a.numel())

        def kernel(cvec):
            def at(pos_blk):  # Vandermonde sums at a block of positions
                return 2 * torch.einsum("hn,hnl->lh", cvec * db, torch.exp(log_a[..., None] * pos_blk)).real

            return map_blocks(at, (pos,), dim=0, block=block, out_dim=0)

        return kernel(c), (kernel(as_complex(self.C_back)) if self.bidirectional else None)

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = torch.promote_types(dtype or self.D.dtype, torch.complex64)
        return torch.zeros(batch, self.d_model, self.d_state // 2, device=device, dtype=dtype)

    def _forward_with_state(self, x: torch.Tensor, state):
        da, db, c = self.discrete()
        h = scan_chunked(da, db * x.to(db.dtype)[..., None], state, chunk=self.chunk)
        y = 2 * torch.einsum("blhn,hn->blh", h, c).real + self.D * x
        return y.to(x.dtype), h[:, -1]

    def _step(self, x_t: torch.Tensor, state):
        da, db, c = self.cached(self.discrete)
        h = da * state + db * x_t.to(db.dtype)[..., None]
        y = 2 * torch.einsum("bhn,hn->bh", h, c).real + self.D * x_t
        return y.to(x_t.dtype), h
