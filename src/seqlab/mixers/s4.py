"""S4 (diagonal plus low rank) and S4D (diagonal) structured state-space mixers.

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

S4D: Gu, Gupta, Goel, Re, "On the Parameterization and Initialization of Diagonal State Space
Models", arXiv 2206.11893. ``A = diag(lambda)`` with S4D-Lin / S4D-Inv init, ZOH or bilinear;
Vandermonde kernel ``K_k = 2 Re sum_n C_n dB_n dA_n^k``; recurrent view
``x_t = dA x_{t-1} + dB u_t``, ``y_t = 2 Re(C x_t) + D u_t`` by :func:`~seqlab.ops.scan.scan_chunked`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.lssl import ConvSSM, DenseRecurrence
from seqlab.ops.blockwise import map_blocks
from seqlab.ops.hippo import discretize_diag, legs_dplr, s4d_init
from seqlab.ops.scan import scan_chunked
from seqlab.registry import register

S4_TITLE = "Efficiently Modeling Long Sequences with Structured State Spaces"
# kernel generation runs over blocks of frequencies (S4) or positions (S4D) whose (H, N, block)
# Cauchy / Vandermonde matrix holds about this many numbers, recomputed in backward
KERNEL_BLOCK_NUMEL = 2**21


def _cparam(z: torch.Tensor) -> nn.Parameter:
    """A complex tensor stored as a real parameter with a trailing (re, im) axis."""
    return nn.Parameter(torch.view_as_real(z.to(torch.complex64)).clone())


def _c(p: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(p)


def _conj_full(z: torch.Tensor) -> torch.Tensor:
    """``cat(z, conj(z))`` on the last axis: the full state from its ``Im >= 0`` half."""
    return torch.cat([z, z.conj()], dim=-1)


class _ComplexEigs(ConvSSM):
    """Holds ``Lambda = -exp(log_neg_re) + i im`` (H, N/2) and complex ``B``, ``C`` (, ``C_back``)."""

    def _init_eigs(self, lam: torch.Tensor, b: torch.Tensor):
        h, half = self.d_model, self.d_state // 2
        self.log_neg_re = nn.Parameter(torch.log(-lam.real).float().expand(h, half).clone())
        self.im = nn.Parameter(lam.imag.float().expand(h, half).clone())
        self.B = _cparam(b.expand(h, half))
        self.C = _cparam(self._randc())
        self.C_back = _cparam(self._randc()) if self.bidirectional else None
        for p in (self.log_neg_re, self.im, self.B):  # S4 keeps A and B out of weight decay
            p._no_weight_decay = True

    def _randc(self) -> torch.Tensor:
        shape = (self.d_model, self.d_state // 2)
        re, im = (torch.randn(shape, generator=self.gen) * math.sqrt(0.5) for _ in range(2))
        return torch.complex(re, im)

    def eigs(self) -> torch.Tensor:
        return torch.complex(-torch.exp(self.log_neg_re), self.im)


@register("mixer", "s4", papers=[S4_TITLE], state="DPLR HiPPO-LegS, bilinear, Cauchy kernel")
class S4(DenseRecurrence, _ComplexEigs):
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
        self.P = _cparam(p.expand(d_model, d_state // 2))

    def full(self):
        """Full (H, N) complex ``Lambda, P, B`` and the step ``dt`` (H,)."""
        return (_conj_full(self.eigs()), _conj_full(_c(self.P)), _conj_full(_c(self.B)),
                torch.exp(self.log_dt))

    def discrete(self):
        lam, p, b, dt = self.full()
        d = 1 / (2 / dt[:, None] - lam)  # (H, N)
        dp = d * p
        m = torch.diag_embed(d) - dp[:, :, None] * (p.conj() * d)[:, None, :] / (
            1 + (p.conj() * dp).sum(-1)
        )[:, None, None]
        a = torch.diag_embed(lam + 2 / dt[:, None]) - p[:, :, None] * p.conj()[:, None, :]
        return m @ a, 2 * torch.einsum("hij,hj->hi", m, b), _conj_full(_c(self.C))

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

        kb = kernel(_conj_full(_c(self.C_back))) if self.bidirectional else None
        return kernel(c), kb


@register("mixer", "s4d", papers=[S4_TITLE],
          cites="On the Parameterization and Initialization of Diagonal State Space Models, arXiv 2206.11893",
          state="diagonal complex, S4D-Lin/Inv, Vandermonde kernel")
class S4D(_ComplexEigs):
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
        da, db = discretize_diag(self.eigs(), _c(self.B), dt, self.discretization)
        return da, db, _c(self.C)

    def kernels(self, length: int):
        da, db, c = self.discrete()
        log_a = torch.exp(self.log_dt)[:, None] * self.eigs() if self.discretization == "zoh" else da.log()
        pos = torch.arange(length, dtype=self.log_dt.dtype, device=self.log_dt.device)
        block = max(1, KERNEL_BLOCK_NUMEL // log_a.numel())

        def kernel(cvec):
            def at(pos_blk):  # Vandermonde sums at a block of positions
                return 2 * torch.einsum("hn,hnl->lh", cvec * db, torch.exp(log_a[..., None] * pos_blk)).real

            return map_blocks(at, (pos,), dim=0, block=block, out_dim=0)

        return kernel(c), (kernel(_c(self.C_back)) if self.bidirectional else None)

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = torch.promote_types(dtype or self.D.dtype, torch.complex64)
        return torch.zeros(batch, self.d_model, self.d_state // 2, device=device, dtype=dtype)

    def forward_with_state(self, x: torch.Tensor, state=None):
        self.check_input(x)
        da, db, c = self.discrete()
        h = scan_chunked(da, db * x.to(db.dtype)[..., None], state, chunk=self.chunk)
        y = 2 * torch.einsum("blhn,hn->blh", h, c).real + self.D * x
        return y.to(x.dtype), h[:, -1]

    def step(self, x_t: torch.Tensor, state=None):
        self.check_input(x_t, step=True)
        da, db, c = self.cached(self.discrete)
        if state is None:
            state = self.init_state(x_t.shape[0], x_t.device, x_t.dtype)
        h = da * state + db * x_t.to(db.dtype)[..., None]
        y = 2 * torch.einsum("bhn,hn->bh", h, c).real + self.D * x_t
        return y.to(x_t.dtype), h
