"""S4: the structured state-space mixer with a diagonal plus low-rank (DPLR) state matrix.

S4: Gu, Goel, Re, "Efficiently Modeling Long Sequences with Structured State Spaces",
arXiv 2111.00396. HiPPO-LegS in its diagonalised DPLR form ``A = diag(Lambda) - P P^*`` (per
channel, ``N`` complex states stored as ``N/2`` conjugate pairs, so the system is real). Bilinear
discretisation with step ``dt``; ``K_k = C^T dA^k dB``. The kernel comes from its truncated
generating function at the roots of unity ``w_j = exp(-2 pi i j / L)``::

    K^(w) = sum_{k<L} K_k w^k = Ct^T (I - dA w)^{-1} dB,      Ct = (I - dA^L)^T C
          = dt Ct^T (a - b A)^{-1} B,        a = 1 - w,  b = dt (1 + w) / 2
          = dt [k00 - b k01 k10 / (1 + b k11)]          (Woodbury, R = diag(1 / (a - b Lambda)))
    k00 = Ct^T R B,  k01 = Ct^T R P,  k10 = P^* R B,  k11 = P^* R P  (Cauchy kernels, z = a / b)

then ``K = irfft(K^)``; this ``(a, b)`` form stays finite at ``w = -1``. The recurrent view uses the
discretised DPLR matrices ``M = (2/dt - Lambda + P P^*)^{-1}`` (Woodbury again),
``dA = M (2/dt I + A)``, ``dB = 2 M B``.

S4D (the diagonal variant) lives in :mod:`seqlab.mixers.s4d`.
"""

from __future__ import annotations

import math

import torch

from seqlab.mixers.ssm_base import (
    KERNEL_BLOCK_NUMEL,
    ComplexEigs,
    DenseRecurrence,
    as_complex,
    conj_full,
    cparam,
)
from seqlab.ops.blockwise import map_blocks
from seqlab.ops.hippo import legs_dplr
from seqlab.registry import Paper, register

S4_TITLE = "Efficiently Modeling Long Sequences with Structured State Spaces"


@register("mixer", "s4", implements=Paper(S4_TITLE, "2111.00396"), used_by=[S4_TITLE])
class S4(DenseRecurrence, ComplexEigs):
    """S4 (arXiv 2111.00396): DPLR ``A = Lambda - P P^*``, Cauchy + Woodbury kernel at roots of unity.

    ``x_t = dA x_{t-1} + dB u_t``, ``y_t = Re(C^T x_t) + D u_t``; ``K^(w) = Ct^T (I - dA w)^{-1} dB``.
    """

    state_size = "d_model * d_state (complex)"
    complex_state = True

    def __init__(self, d_model: int, d_state: int = 64, bidirectional: bool = False,
                 dt_min: float = 1e-3, dt_max: float = 1e-1, seed: int | None = None):
        super().__init__(d_model, d_state, bidirectional, dt_min, dt_max, seed)
        lam, p, b = legs_dplr(d_state)
        self._init_eigs(lam, b)
        self.P = cparam(p.expand(d_model, d_state // 2))

    def full(self):
        """Full (H, N) complex ``Lambda, P, B`` and the step ``dt`` (H,)."""
        return (conj_full(self.eigs()), conj_full(as_complex(self.P)), conj_full(as_complex(self.B)),
                torch.exp(self.log_dt))

    def discrete(self):
        lam, p, b, dt = self.full()
        d = 1 / (2 / dt[:, None] - lam)  # (H, N)
        dp = d * p
        m = torch.diag_embed(d) - dp[:, :, None] * (p.conj() * d)[:, None, :] / (
            1 + (p.conj() * dp).sum(-1)
        )[:, None, None]
        a = torch.diag_embed(lam + 2 / dt[:, None]) - p[:, :, None] * p.conj()[:, None, :]
        return m @ a, 2 * torch.einsum("hij,hj->hi", m, b), conj_full(as_complex(self.C))

    def kernels(self, length: int):
        lam, p, b, dt = self.full()
        da, _, c = self.cached(self.discrete)
        da_l = torch.linalg.matrix_power(da, length)
        freq = torch.arange(length // 2 + 1, dtype=dt.dtype, device=dt.device)
        w = torch.polar(torch.ones_like(freq), -2 * math.pi * freq / length)
        a = 1 - w  # (F,)
        bb = dt[:, None] / 2 * (1 + w)  # (H, F)
        block = max(1, KERNEL_BLOCK_NUMEL // lam.numel())

        def kernel(cvec):
            ct = cvec - torch.einsum("hji,hj->hi", da_l, cvec)
            vec = torch.stack([ct * b, ct * p, p.conj() * b, p.conj() * p], dim=1)  # (H, 4, N)

            def at(a_f, bb_f):  # the Cauchy sums at a block of frequencies
                r = 1 / (a_f[None, :, None] - bb_f[:, :, None] * lam[:, None, :])  # (H, F_blk, N)
                k = torch.einsum("hfn,hkn->hkf", r, vec)
                return dt[:, None] * (k[:, 0] - bb_f * k[:, 1] * k[:, 2] / (1 + bb_f * k[:, 3]))

            khat = map_blocks(lambda a_f, bb_t: at(a_f, bb_t.T), (a, bb.T), dim=0, block=block, out_dim=1)
            return torch.fft.irfft(khat, n=length, dim=-1).T  # (L, H)

        kb = kernel(conj_full(as_complex(self.C_back))) if self.bidirectional else None
        return kernel(c), kb


