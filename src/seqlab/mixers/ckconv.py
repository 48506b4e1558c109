"""CKConv: convolution whose kernel is a continuous function of relative position.

Romero et al., "CKConv: Continuous Kernel Convolution For Sequential Data", arXiv 2102.02611.
A small SIREN ``K: R -> R^H`` (sine activations, ``sin(w0 (W p + b))``) maps a relative position to
one tap per channel (depthwise; channel mixing is left to the surrounding block). Positions are
normalised by ``max_len``: lag ``s in [0, max_len - 1]`` maps to ``p = 2 s / (max_len - 1) - 1``
(causal), or ``p = s / (max_len - 1)`` for ``s in [-(max_len - 1), max_len - 1]`` (bidirectional);
lags beyond ``max_len - 1`` get no weight::

    regular sampling:    y_t = sum_{s=0}^{min(t, max_len-1)} K(s) x_{t-s} + D x_t      (FFT)
    irregular sampling:  y_i = sum_{j <= i, t_i - t_j <= max_len-1} K(t_i - t_j) x_j + D x_i  (O(L^2))

Chunked and step modes keep a cache of the last ``max_len - 1`` inputs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqlab.mixers.base import Mixer
from seqlab.ops.fft_conv import fft_conv
from seqlab.ops.init import make_generator
from seqlab.registry import Paper, register

CKCONV_TITLE = "CKConv: Continuous Kernel Convolution For Sequential Data"


class Siren(nn.Module):
    """``p (..., 1) -> (..., out)``: ``depth`` sine layers of width ``hidden`` then a linear layer."""

    def __init__(self, out: int, hidden: int, depth: int, omega0: float, gen: torch.Generator | None):
        super().__init__()
        self.omega0 = omega0
        dims = [1] + [hidden] * depth
        self.hidden = nn.ModuleList(nn.Linear(i, o) for i, o in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(hidden, out)
        with torch.no_grad():  # SIREN init: first layer U(-1/in, 1/in), later U(+-sqrt(6/in)/w0)
            for i, layer in enumerate(self.hidden):
                bound = 1 / layer.in_features if i == 0 else math.sqrt(6 / layer.in_features) / omega0
                layer.weight.copy_((torch.rand(layer.weight.shape, generator=gen) * 2 - 1) * bound)
                layer.bias.copy_((torch.rand(layer.bias.shape, generator=gen) * 2 - 1) * bound)
            bound = math.sqrt(6 / hidden)
            self.out.weight.copy_((torch.rand(self.out.weight.shape, generator=gen) * 2 - 1) * bound)
            self.out.bias.zero_()

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            p = torch.sin(self.omega0 * layer(p))
        return self.out(p)


@register("mixer", "ckconv", implements=Paper(CKCONV_TITLE, "2102.02611"), used_by=[CKCONV_TITLE])
class CKConv(Mixer):
    """CKConv (arXiv 2102.02611): ``y_t = sum_s K(s) x_{t-s} + D x_t`` with a SIREN kernel ``K``.

    ``forward(x, times=...)`` takes time stamps (batch, L) for irregular sampling (direct sum).
    """

    modes = ("parallel", "chunked", "step")
    state_size = "O(max_len * d_model)"
    state_growth = "linear"  # a global kernel over the whole history (up to max_len)

    def __init__(self, d_model: int, max_len: int = 1024, hidden: int = 32, depth: int = 2,
                 omega0: float = 30.0, bidirectional: bool = False, seed: int | None = None):
        super().__init__(d_model, causal=not bidirectional)
        if not isinstance(max_len, int) or max_len < 2:
            raise ValueError(f"max_len must be an int >= 2, got {max_len!r}")
        self.max_len, self.bidirectional = max_len, bidirectional
        if bidirectional:
            self.modes = ("parallel",)
        gen = make_generator(seed)
        self.kernel_net = Siren(d_model, hidden, depth, omega0, gen)
        self.D = nn.Parameter(torch.randn(d_model, generator=gen))

    def kernel_at(self, lags: torch.Tensor) -> torch.Tensor:
        """``K(lag)`` for lags in steps (any shape) -> (..., d_model); zero outside the support."""
        span = self.max_len - 1
        p = lags / span if self.bidirectional else 2 * lags / span - 1
        k = self.kernel_net(p.unsqueeze(-1)) / math.sqrt(self.max_len)
        inside = (lags.abs() <= span) if self.bidirectional else (lags >= 0) & (lags <= span)
        return k * inside.unsqueeze(-1).to(k.dtype)

    def _taps(self, length: int, like: torch.Tensor) -> torch.Tensor:
        lags = torch.arange(min(length, self.max_len), dtype=like.dtype, device=like.device)
        return self.kernel_at(lags)

    def _forward(self, x: torch.Tensor, times: torch.Tensor | None = None) -> torch.Tensor:
        if times is not None:
            return self.forward_irregular(x, times)
        taps = self._taps(x.shape[1], self.D)
        back = None
        if self.bidirectional:  # lags -1, -2, ...; lag 0 is already in ``taps``
            back = self.kernel_at(-torch.arange(taps.shape[0], dtype=taps.dtype, device=taps.device))
            back = torch.cat([torch.zeros_like(back[:1]), back[1:]])
        return fft_conv(x, taps, back) + self.D * x

    def forward_irregular(self, x: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Direct sum over time stamps ``times`` (batch, L), in units of one regular step."""
        self.check_input(x)
        if not isinstance(times, torch.Tensor) or times.shape != x.shape[:2]:
            got = tuple(times.shape) if isinstance(times, torch.Tensor) else type(times).__name__
            raise ValueError(f"CKConv expects times of shape (batch, length)={tuple(x.shape[:2])}, got {got}")
        if not times.is_floating_point() and times.dtype not in (torch.int32, torch.int64):
            raise ValueError(f"CKConv expects real-valued times, got dtype {times.dtype}")
        times = times.to(self.D.dtype)
        if not torch.isfinite(times).all():  # the O(L^2) irregular path; not the hot path
            raise ValueError("CKConv expects finite times, got NaN or inf")
        if self.causal and (times[:, 1:] < times[:, :-1]).any():
            raise ValueError("CKConv (causal) expects non-decreasing times along each sequence")
        diff = times[:, :, None] - times[:, None, :]  # (B, L_i, L_j): t_i - t_j
        k = self.kernel_at(diff)
        if self.causal:
            k = k * torch.ones_like(diff).tril().unsqueeze(-1)
        return torch.einsum("bijh,bjh->bih", k, x) + self.D * x

    def init_state(self, batch: int, device=None, dtype=None):
        return torch.zeros(batch, self.max_len - 1, self.d_model, device=device, dtype=dtype or self.D.dtype)

    def _forward_with_state(self, x: torch.Tensor, state):
        full = torch.cat([state.to(x.dtype), x], dim=1)  # a no-op except under autocast
        y = fft_conv(full, self._taps(full.shape[1], self.D))[:, state.shape[1]:] + self.D * x
        return y, full[:, -(self.max_len - 1):]

    def _step(self, x_t: torch.Tensor, state):
        window = torch.cat([state.to(x_t.dtype), x_t[:, None]], dim=1)  # oldest .. newest
        taps = self._taps(self.max_len, self.D).flip(0)  # K(max_len-1) .. K(0)
        y = (window * taps).sum(1) + self.D * x_t
        return y, window[:, 1:]
