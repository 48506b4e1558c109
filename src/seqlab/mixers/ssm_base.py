"""Shared bodies of the linear state-space mixers (no mixer is registered here).

- :class:`ConvSSM`: the LTI convolution view of LSSL, S4 and S4D -- a kernel ``K`` of length ``L``
  from the discretised system, ``y = K * u + D u`` by FFT (:func:`~seqlab.ops.fft_conv.fft_conv`);
- :class:`DenseRecurrence`: the recurrent views of a dense discretised state ``(dA, dB, C)`` (LSSL,
  S4); numerics in :mod:`seqlab.ops.dense_ssm`;
- :class:`ComplexEigs`: the complex eigenvalues ``Lambda = -exp(log_neg_re) + i im`` and complex
  ``B``, ``C`` of S4 and S4D, stored as real parameters;
- :class:`DiagonalMIMO`: the diagonal complex MIMO recurrence of LRU and S5,
  ``x_t = lambda * x_{t-1} + B~ u_t``, ``y_t = s Re(C x_t) + D * u_t``, by
  :func:`~seqlab.ops.scan.scan_chunked`.

Papers: LSSL (arXiv 2110.13985), S4 (arXiv 2111.00396), S4D (arXiv 2206.11893), LRU (arXiv
2303.06349), S5 (arXiv 2208.04933); each mixer's own file gives its math.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.dense_ssm import dense_chunk, dense_step
from seqlab.ops.fft_conv import fft_conv
from seqlab.ops.init import log_uniform, make_generator
from seqlab.ops.scan import scan_chunked, scan_sequential

# kernel generation runs over blocks of frequencies (S4) or positions (S4D) whose (H, N, block)
# Cauchy / Vandermonde matrix holds about this many numbers, recomputed in backward
KERNEL_BLOCK_NUMEL = 2**21


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
        k, _ = self.kernels(x.shape[1])
        y_state, h = dense_chunk(da, db, c, x, state)
        return fft_conv(x, k) + self.D * x + y_state, h

    def _step(self, x_t: torch.Tensor, state):
        da, db, c = self.cached(self.discrete)
        y, h = dense_step(da, db, c, x_t, state)
        return (y + self.D * x_t).to(x_t.dtype), h


def cparam(z: torch.Tensor) -> nn.Parameter:
    """A complex tensor stored as a real parameter with a trailing (re, im) axis."""
    return nn.Parameter(torch.view_as_real(z.to(torch.complex64)).clone())


def as_complex(p: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(p)


def conj_full(z: torch.Tensor) -> torch.Tensor:
    """``cat(z, conj(z))`` on the last axis: the full state from its ``Im >= 0`` half."""
    return torch.cat([z, z.conj()], dim=-1)


class ComplexEigs(ConvSSM):
    """Holds ``Lambda = -exp(log_neg_re) + i im`` (H, N/2) and complex ``B``, ``C`` (, ``C_back``)."""

    def _init_eigs(self, lam: torch.Tensor, b: torch.Tensor):
        h, half = self.d_model, self.d_state // 2
        self.log_neg_re = nn.Parameter(torch.log(-lam.real).float().expand(h, half).clone())
        self.im = nn.Parameter(lam.imag.float().expand(h, half).clone())
        self.B = cparam(b.expand(h, half))
        self.C = cparam(self._randc())
        self.C_back = cparam(self._randc()) if self.bidirectional else None
        for p in (self.log_neg_re, self.im, self.B):  # S4 keeps A and B out of weight decay
            p._no_weight_decay = True

    def _randc(self) -> torch.Tensor:
        shape = (self.d_model, self.d_state // 2)
        re, im = (torch.randn(shape, generator=self.gen) * math.sqrt(0.5) for _ in range(2))
        return torch.complex(re, im)

    def eigs(self) -> torch.Tensor:
        return torch.complex(-torch.exp(self.log_neg_re), self.im)


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


def complex_normal(shape, std: float, gen) -> torch.Tensor:
    return torch.complex(torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)) * std
