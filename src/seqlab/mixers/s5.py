"""S5: the simplified state-space layer, a MIMO diagonal complex recurrence.

S5 -- Smith, Warrington, Linderman, "Simplified State Space Layers for Sequence Modeling",
arXiv 2208.04933: ``lambda`` from the diagonalised normal part of HiPPO-LegS (HiPPO-N), ZOH with
a learned per-state step ``dt``: ``lambda = exp(Lambda dt)``, ``B~ = (lambda - 1) / Lambda * B``;
the ``N`` stored states are the ``Im >= 0`` halves of conjugate pairs, so ``s = 2``.

The recurrence is :class:`~seqlab.mixers.ssm_base.DiagonalMIMO` (shared with LRU)::

    x_t = lambda * x_{t-1} + B~ u_t,        y_t = 2 Re(C x_t) + D * u_t
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.mixers.lru import UNIVERSALITY
from seqlab.mixers.ssm_base import DiagonalMIMO, complex_normal
from seqlab.ops.hippo import legs_nplr
from seqlab.ops.init import log_uniform
from seqlab.registry import Paper, register


@register("mixer", "s5",
          implements=Paper("Simplified State Space Layers for Sequence Modeling", "2208.04933"),
          used_by=[UNIVERSALITY])
class S5(DiagonalMIMO):
    """S5 (arXiv 2208.04933): MIMO ``x_t = exp(Lambda dt) x_{t-1} + dB u_t``, ``y_t = 2 Re(C x_t) + D u_t``.

    ``dB = (exp(Lambda dt) - 1) / Lambda * B``, ``B: N x H``, ``C: H x N``, ``dt`` learned per state.
    """

    out_scale = 2.0

    def __init__(self, d_model: int, d_state: int = 32, dt_min: float = 1e-3, dt_max: float = 1e-1,
                 seed: int | None = None, chunk: int = 64):
        super().__init__(d_model, d_state, seed, chunk)
        lam, v, _, _, _ = legs_nplr(2 * d_state)
        lam, v = lam[:d_state], v[:, :d_state]  # Im >= 0 half
        self.log_neg_re = nn.Parameter(torch.log(-lam.real).float())
        self.im = nn.Parameter(lam.imag.float())
        self.log_dt = nn.Parameter(log_uniform(d_state, dt_min, dt_max, self.gen))
        b = torch.randn(2 * d_state, d_model, generator=self.gen, dtype=torch.float64) * d_model**-0.5
        self.B = nn.Parameter(torch.view_as_real((v.conj().T @ b.to(v.dtype)).to(torch.complex64)).clone())
        self.C = nn.Parameter(torch.view_as_real(complex_normal((d_model, d_state), (2 * d_state) ** -0.5,
                                                                 self.gen)).clone())

    def coefficients(self):
        eig = torch.complex(-torch.exp(self.log_neg_re), self.im)
        lam = torch.exp(eig * torch.exp(self.log_dt))
        b = ((lam - 1) / eig)[:, None] * torch.view_as_complex(self.B)
        return lam, b, torch.view_as_complex(self.C)
