"""LRU: the linear recurrent unit, a diagonal complex MIMO linear recurrence.

Both keep one state ``x_t in C^N`` shared by all channels, evaluated by
:func:`~seqlab.ops.scan.scan_chunked` (parallel and chunked) or one step at a time::

    x_t = lambda * x_{t-1} + B~ u_t,        y_t = s Re(C x_t) + D * u_t

LRU -- Orvieto et al., "Resurrecting Recurrent Neural Networks for Long Sequences",
arXiv 2303.06349: ``lambda = exp(-exp(nu) + i exp(theta))``, ring init ``|lambda|`` uniform on
``[r_min, r_max]`` (in squared radius), phase uniform on ``[0, max_phase]``;
``B~ = diag(gamma) B`` with ``gamma = sqrt(1 - |lambda|^2)`` (learned through ``log gamma``); ``s = 1``.

S5 lives in :mod:`seqlab.mixers.s5`; the shared recurrence in
:class:`~seqlab.mixers.ssm_base.DiagonalMIMO`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.ssm_base import DiagonalMIMO, complex_normal
from seqlab.registry import Paper, register

UNIVERSALITY = "On the Universality of Linear Recurrences Followed by Nonlinear Projections"


@register("mixer", "lru",
          implements=Paper("Resurrecting Recurrent Neural Networks for Long Sequences", "2303.06349"),
          used_by=[UNIVERSALITY])
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
        self.B = nn.Parameter(torch.view_as_real(complex_normal((d_state, d_model), (2 * d_model) ** -0.5,
                                                                 self.gen)).clone())
        self.C = nn.Parameter(torch.view_as_real(complex_normal((d_model, d_state), d_state**-0.5,
                                                                 self.gen)).clone())

    def coefficients(self):
        lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
        b = torch.exp(self.gamma_log)[:, None] * torch.view_as_complex(self.B)
        return lam, b, torch.view_as_complex(self.C)


