"""Long per-channel convolutions by FFT, beside the plain direct sum they are tested against.

Causal convolution of ``u: (batch, L, D)`` with a per-channel kernel ``k: (L_k, D)``::

    y_t = sum_{s=0}^{min(t, L_k - 1)} k_s u_{t-s}

and, when a backward kernel ``k_back`` is given (bidirectional), additionally the same causal
convolution run on the time-reversed input and reversed back::

    y_t += sum_{s=0}^{min(L-1-t, L_b - 1)} k_back_s u_{t+s}

The FFT path zero-pads to ``n >= 2L`` (a power of two), so the circular convolution the FFT
computes never wraps around: lags ``-(L-1) .. L-1`` all land on distinct indices mod ``n``.
Kernel taps at lags ``>= L`` never touch the output and are dropped first.
"""

from __future__ import annotations

import torch


def _check(u: torch.Tensor, k: torch.Tensor, name: str) -> None:
    if u.dim() != 3:
        raise ValueError(f"fft_conv expects u of shape (batch, length, D), got shape {tuple(u.shape)}")
    if k.dim() != 2 or k.shape[1] != u.shape[2] or k.shape[0] == 0:
        raise ValueError(
            f"fft_conv expects {name} of shape (L_k >= 1, D={u.shape[2]}), got shape {tuple(k.shape)}"
        )
    if u.shape[1] == 0:
        raise ValueError("fft_conv expects a non-empty sequence (length >= 1)")


def _fit(k: torch.Tensor, length: int) -> torch.Tensor:
    """Truncate or zero-pad the kernel to exactly ``length`` taps."""
    if k.shape[0] >= length:
        return k[:length]
    return torch.cat([k, k.new_zeros(length - k.shape[0], k.shape[1])], dim=0)


def fft_conv(u: torch.Tensor, k: torch.Tensor, k_back: torch.Tensor | None = None) -> torch.Tensor:
    """Causal (or, with ``k_back``, two-sided) per-channel convolution via ``rfft``."""
    _check(u, k, "k")
    if k_back is not None:
        _check(u, k_back, "k_back")
    length = u.shape[1]
    n = 1 << (2 * length - 1).bit_length()  # power of two >= 2L
    work = torch.promote_types(u.dtype, torch.float32)
    kern = _fit(k, length).to(work)
    if k_back is not None:
        kb = _fit(k_back, length).to(work)
        gap = kern.new_zeros(n - 2 * length + 1, kern.shape[1])
        # lag 0 gets both taps; lag -s (s >= 1) sits at circular index n - s
        kern = torch.cat([kern[:1] + kb[:1], kern[1:], gap, kb[1:].flip(0)], dim=0)
    kf = torch.fft.rfft(kern, n=n, dim=0)
    uf = torch.fft.rfft(u.to(work), n=n, dim=1)
    y = torch.fft.irfft(uf * kf, n=n, dim=1)[:, :length]
    return y.to(u.dtype)


def conv_reference(u: torch.Tensor, k: torch.Tensor, k_back: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: the direct sum over lags, one shifted copy of ``u`` per tap."""
    _check(u, k, "k")
    length = u.shape[1]
    y = torch.zeros_like(u)
    for s in range(min(k.shape[0], length)):
        y[:, s:] = y[:, s:] + k[s] * u[:, : length - s]
    if k_back is not None:
        _check(u, k_back, "k_back")
        for s in range(min(k_back.shape[0], length)):
            y[:, : length - s] = y[:, : length - s] + k_back[s] * u[:, s:]
    return y
