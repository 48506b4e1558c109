"""LSSL: the linear state-space layer with a dense HiPPO-LegS state matrix.

Gu et al., "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space
Layers", arXiv 2110.13985. Each channel ``h`` is a SISO system ``x' = A x + B u_h``, ``y_h = C_h x
+ D_h u_h`` with the fixed HiPPO-LegS ``(A, B)`` (N x N, dense), a learned step ``dt_h`` and learned
``C_h, D_h``. Bilinear discretisation gives ``(dA_h, dB_h)`` and two equal views::

    recurrent:     x_t = dA x_{t-1} + dB u_t,      y_t = C x_t + D u_t
    convolutional: K_k = C dA^k dB  (Krylov, log2 L squarings),   y = K * u + D u  (FFT)

The convolution view and the dense-state recurrent view (chunks carry the state ``x``: the output
gains ``C dA^{t+1} x_0`` and the state becomes ``dA^L x_0 + sum_j dA^j dB u_{L-1-j}``) are shared
with S4: :class:`~seqlab.mixers.ssm_base.ConvSSM`, :class:`~seqlab.mixers.ssm_base.DenseRecurrence`
and :mod:`seqlab.ops.dense_ssm`.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.mixers.ssm_base import ConvSSM, DenseRecurrence
from seqlab.ops.hippo import discretize_dense, krylov_kernel, legs
from seqlab.registry import Paper, register

LSSL_TITLE = "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers"


@register("mixer", "lssl", implements=Paper(LSSL_TITLE, "2110.13985"), used_by=[LSSL_TITLE])
class LSSL(DenseRecurrence, ConvSSM):
    """LSSL (arXiv 2110.13985): per-channel SISO SSM with dense HiPPO-LegS A, Krylov kernel.

    ``x_t = dA x_{t-1} + dB u_t``, ``y_t = C x_t + D u_t``, ``(dA, dB)`` = bilinear(A, B, dt);
    parallel mode: ``y = (C dA^k dB)_k * u + D u``.
    """

    state_size = "d_model * d_state"

    def __init__(self, d_model: int, d_state: int = 64, bidirectional: bool = False,
                 dt_min: float = 1e-3, dt_max: float = 1e-1, seed: int | None = None):
        super().__init__(d_model, d_state, bidirectional, dt_min, dt_max, seed)
        a, b = legs(d_state)
        self.register_buffer("A", a.float())
        self.register_buffer("B", b.float())
        scale = d_state**-0.5
        self.C = nn.Parameter(torch.randn(d_model, d_state, generator=self.gen) * scale)
        self.C_back = (
            nn.Parameter(torch.randn(d_model, d_state, generator=self.gen) * scale) if bidirectional else None
        )

    def discrete(self):
        da, db = discretize_dense(self.A, self.B, torch.exp(self.log_dt), "bilinear")
        return da, db, self.C

    def kernels(self, length: int):
        da, db, c = self.discrete()
        k = krylov_kernel(da, db, c, length)  # (L, H): C dA^k dB
        kb = krylov_kernel(da, db, self.C_back, length) if self.bidirectional else None
        return k, kb
