"""LSSL: the linear state-space layer with a dense HiPPO-LegS state matrix.

Gu et al., "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space
Layers", arXiv 2110.13985. Each channel ``h`` is a SISO system ``x' = A x + B u_h``, ``y_h = C_h x
+ D_h u_h`` with the fixed HiPPO-LegS ``(A, B)`` (N x N, dense), a learned step ``dt_h`` and learned
``C_h, D_h``. Bilinear discretisation gives ``(dA_h, dB_h)`` and two equal views::

    recurrent:     x_t = dA x_{t-1} + dB u_t,      y_t = C x_t + D u_t
    convolutional: K_k = C dA^k dB  (Krylov, log2 L squarings),   y = K * u + D u  (FFT)

This module also holds what LSSL shares with S4 (:mod:`seqlab.mixers.s4`): the convolution-view
base class and the dense-state recurrent view (chunks carry the state ``x``: the output gains
``C dA^{t+1} x_0`` and the state becomes ``dA^L x_0 + sum_j dA^j dB u_{L-1-j}``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.fft_conv import fft_conv
from seqlab.ops.hippo import discretize_dense, krylov, krylov_kernel, legs
from seqlab.registry import register

LSSL_TITLE = "Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers"


def make_generator(seed: int | None) -> torch.Generator | None:
    """A seeded CPU generator, or ``None`` (the global RNG) when ``seed`` is ``None``."""
    return None if seed is None else torch.Generator().manual_seed(seed)


def log_uniform(n: int, lo: float, hi: float, gen: torch.Generator | None) -> torch.Tensor:
    """``n`` values of ``log(dt)`` with ``dt`` log-uniform in ``[lo, hi]``."""
    if not 0 < lo <= hi:
        raise ValueError(f"expected 0 < dt_min <= dt_max, got dt_min={lo}, dt_max={hi}")
    return math.log(lo) + torch.rand(n, generator=gen) * (math.log(hi) - math.log(lo))


def _real(z: torch.Tensor) -> torch.Tensor:
    return z.real if z.is_complex() else z


class ConvSSM(Mixer):
    """Base of the LTI state-space mixers: kernel of length L + FFT convolution + skip ``D``.

    Subclasses implement ``kernels(length) -> (k (L, d_model), k_back or None)``. With
    ``bidirectional=True`` a second output projection gives an anti-causal kernel and the mixer
    runs in parallel mode only.
    """

    modes = ("parallel", "chunked", "step")
    state_growth = "constant"
    upcast_low_precision = True  # complex/FFT math: float32 inside a half/bf16 mixer

    def __init__(self, d_model: int, d_state: int, bidirectional: bool, dt_min: float, dt_max: float,
                 seed: int | None):
        super().__init__(d_model, causal=not bidirectional)
        if not isinstance(d_state, int) or d_state < 2 or d_state % 2:
            raise ValueError(f"d_state must be an even int >= 2, got {d_state!r}")
        self.d_state = d_state
        self.bidirectional = bidirectional
        if bidirectional:
            self.modes = ("parallel",)
        self.gen = make_generator(seed)
        self.log_dt = nn.Parameter(log_uniform(d_model, dt_min, dt_max, self.gen))
        self.D = nn.Parameter(torch.randn(d_model, generator=self.gen))
        self._cache: tuple | None = None

    def kernels(self, length: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        k, k_back = self.kernels(x.shape[1])
        return fft_conv(x, k, k_back) + self.D * x

    def cached(self, fn):
        """``fn()`` (discretised matrices), reused under ``no_grad`` while parameters are unchanged."""
        if torch.is_grad_enabled():
            return fn()
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in self.parameters())
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, fn())
        return self._cache[1]


class DenseRecurrence:
    """Recurrent views for a dense discretised state: ``discrete() -> (dA, dB, C)``, shapes
    ``(H, N, N)``, ``(H, N)``, ``(H, N)``, real or complex (output = real part)."""

    complex_state = False

    def init_state(self, batch: int, device=None, dtype=None):
        dtype = dtype or self.D.dtype
        if self.complex_state:
            dtype = torch.promote_types(dtype, torch.complex64)
        return torch.zeros(batch, self.d_model, self.d_state, device=device, dtype=dtype)

    def _forward_with_state(self, x: torch.Tensor, state):
        da, db, c = self.cached(self.discrete)
        length = x.shape[1]
        k, _ = self.kernels(length)
        y = fft_conv(x, k) + self.D * x
        u = x.to(db.dtype)
        h = torch.einsum("lhn,blh->bhn", krylov(da, db, length), u.flip(1))
        g = krylov(da.transpose(-1, -2), c, length + 1)[1:]  # (dA^T)^{t+1} C: the carried state's share
        y = y + _real(torch.einsum("lhn,bhn->blh", g, state.to(g.dtype)))
        h = h + torch.einsum("hij,bhj->bhi", torch.linalg.matrix_power(da, length), state.to(h.dtype))
        return y, h

    def _step(self, x_t: torch.Tensor, state):
        da, db, c = self.cached(self.discrete)
        h = torch.einsum("hij,bhj->bhi", da, state.to(da.dtype)) + db * x_t.to(db.dtype)[..., None]
        y = _real(torch.einsum("hn,bhn->bh", c, h)) + self.D * x_t
        return y.to(x_t.dtype), h


@register("mixer", "lssl", papers=[LSSL_TITLE], state="dense HiPPO-LegS, bilinear")
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
