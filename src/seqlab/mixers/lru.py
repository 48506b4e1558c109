"""Diagonal complex MIMO linear recurrences: LRU and S5.

Both keep one state ``x_t in C^N`` shared by all channels, evaluated by
:func:`~seqlab.ops.scan.scan_chunked` (parallel and chunked) or one step at a time::

    x_t = lambda * x_{t-1} + B~ u_t,        y_t = s Re(C x_t) + D * u_t

LRU -- Orvieto et al., "Resurrecting Recurrent Neural Networks for Long Sequences",
arXiv 2303.06349: ``lambda = exp(-exp(nu) + i exp(theta))``, ring init ``|lambda|`` uniform on
``[r_min, r_max]`` (in squared radius), phase uniform on ``[0, max_phase]``;
``B~ = diag(gamma) B`` with ``gamma = sqrt(1 - |lambda|^2)`` (learned through ``log gamma``); ``s = 1``.

S5 -- Smith, Warrington, Linderman, "Simplified State Space Layers for Sequence Modeling",
arXiv 2208.04933: ``lambda`` from the diagonalised normal part of HiPPO-LegS (HiPPO-N), ZOH with
a learned per-state step ``dt``: ``lambda = exp(Lambda dt)``, ``B~ = (lambda - 1) / Lambda * B``;
the ``N`` stored states are the ``Im >= 0`` halves of conjugate pairs, so ``s = 2``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.mixers.lssl import log_uniform, make_generator
from seqlab.ops.hippo import legs_nplr
from seqlab.ops.scan import scan_chunked, scan_sequential
from seqlab.registry import register

UNIVERSALITY = "On the Universality of Linear Recurrences Followed by Nonlinear Projections"


class DiagonalMIMO(Mixer):
    """Shared machinery; subclasses define ``coefficients() -> (lambda (N,), B~ (N, H), C (H, N))``."""

    modes = ("parallel", "chunked", "step")
    state_size = "d_state (complex)"
    state_growth = "constant"
    upcast_low_precision = True  # complex/FFT math: float32 inside a half/bf16 mixer
    out_scale = 1.0

    def __init__(self, d_model: int, d_state: int, seed: int | None, chunk: int):
        super().__init__(d_model)
        if not isinstance(d_state, int) or d_state < 1:
            raise ValueError(f"d_state must be a positive int, got {d_state!r}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.d_state, self.chunk = d_state, chunk
        self.gen = make_generator(seed)
        self.D = nn.Parameter(torch.randn(d_model, generator=self.gen))

    def coefficients(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _run(self, x: torch.Tensor, state, scan) -> tuple[torch.Tensor, torch.Tensor]:
        lam, b, c = self.coefficients()
        drive = torch.einsum("blh,nh->bln", x.to(b.dtype), b)
        h = scan(lam, drive, state)
        y = self.out_scale * torch.einsum("bln,hn->blh", h, c).real + self.D * x
        return y.to(x.dtype), h[:, -1]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None, lambda a, b, h0: scan_chunked(a, b, h0, chunk=self.chunk))[0]

    def reference(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The same map by the sequential loop (:func:`scan_sequential`), for tests."""
        self.check_input(x)
        return self._run(x, state, scan_sequential)

    def _forward_with_state(self, x: torch.Tensor, state):
        return self._run(x, state, lambda a, b, h0: scan_chunked(a, b, h0, chunk=self.chunk))

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = torch.promote_types(dtype or self.D.dtype, torch.complex64)
        return torch.zeros(batch, self.d_state, device=device, dtype=dtype)

    def _step(self, x_t: torch.Tensor, state):
        lam, b, c = self.coefficients()
        h = lam * state + x_t.to(b.dtype) @ b.T
        y = self.out_scale * (h @ c.T).real + self.D * x_t
        return y.to(x_t.dtype), h


def _complex_normal(shape, std: float, gen) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)) * std


@register("mixer", "lru", papers=[UNIVERSALITY],
          cites="Resurrecting Recurrent Neural Networks for Long Sequences, arXiv 2303.06349",
          state="diagonal complex, ring init, gamma normalisation")
class LRU(DiagonalMIMO):
    """LRU (arXiv 2303.06349): ``x_t = lambda x_{t-1} + gamma B u_t``, ``y_t = Re(C x_t) + D u_t``.

    ``lambda = exp(-exp(nu) + i exp(theta))``, ``gamma = sqrt(1 - |lambda|^2)``.
    """

    def __init__(self, d_model: int, d_state: int = 64, r_min: float = 0.0, r_max: float = 1.0,
                 max_phase: float = 2 * math.pi, seed: int | None = None, chunk: int = 64):
        super().__init__(d_model, d_state, seed, chunk)
        if not 0 <= r_min < r_max <= 1 or max_phase <= 0:
            raise ValueError(f"expected 0 <= r_min < r_max <= 1 and max_phase > 0, got "
                             f"r_min={r_min}, r_max={r_max}, max_phase={max_phase}")
        u1 = torch.rand(d_state, generator=self.gen)
        u2 = torch.rand(d_state, generator=self.gen)
        # radius^2 uniform on [r_min^2, r_max^2]; clamp keeps |lambda| < 1 and log finite
        radius2 = (u1 * (r_max**2 - r_min**2) + r_min**2).clamp(1e-8, 1 - 1e-6)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(radius2)))
        self.theta_log = nn.Parameter(torch.log((max_phase * u2).clamp_min(1e-8)))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - radius2))
        self.B = nn.Parameter(torch.view_as_real(_complex_normal((d_state, d_model), (2 * d_model) ** -0.5,
                                                                 self.gen)).clone())
        self.C = nn.Parameter(torch.view_as_real(_complex_normal((d_model, d_state), d_state**-0.5,
                                                                 self.gen)).clone())

    def coefficients(self):
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        b = torch.exp(self.gamma_log)[:, None] * torch.view_as_complex(self.B)
        return lam, b, torch.view_as_complex(self.C)


@register("mixer", "s5",
          cites="Simplified State Space Layers for Sequence Modeling, arXiv 2208.04933",
          state="MIMO diagonal complex, HiPPO-N init, ZOH")
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
        self.C = nn.Parameter(torch.view_as_real(_complex_normal((d_model, d_state), (2 * d_state) ** -0.5,
                                                                 self.gen)).clone())

    def coefficients(self):
        eig = torch.complex(-torch.exp(self.log_neg_re), self.im)
        lam = torch.exp(eig * torch.exp(self.log_dt))
        b = ((lam - 1) / eig)[:, None] * torch.view_as_complex(self.B)
        return lam, b, torch.view_as_complex(self.C)
