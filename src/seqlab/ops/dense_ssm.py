"""Recurrent evaluation of a dense discretised state-space system, per channel.

For channel ``h`` with ``dA_h (N x N)``, ``dB_h (N)``, ``C_h (N)`` (real or complex; outputs take the
real part) and input ``u``, the state recursion ``x_t = dA x_{t-1} + dB u_t``, ``y_t = C . x_t`` over a
chunk of ``L`` steps from the carried state ``x_0`` splits into the zero-state response (the
convolution ``K * u``, computed by the caller with FFT) and the carried state's share::

    y_t  += Re(C . dA^{t+1} x_0) = Re(((dA^T)^{t+1} C) . x_0)            t = 0 .. L-1
    x_L   = sum_j dA^j dB u_{L-1-j} + dA^L x_0

Both sums use the Krylov powers of :func:`seqlab.ops.hippo.krylov` (log2 L squarings). Used by LSSL
("Combining Recurrent, Convolutional, and Continuous-time Models with Linear State-Space Layers",
arXiv 2110.13985) and S4 (arXiv 2111.00396); :func:`dense_step` is one step of the recursion.
"""

from __future__ import annotations

import torch

from seqlab.ops.hippo import krylov


def _real(z: torch.Tensor) -> torch.Tensor:
    return z.real if z.is_complex() else z


def dense_chunk(da, db, c, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``u (B, L, H)``, ``state x_0 (B, H, N)`` -> (carried state's output share ``(B, L, H)``, ``x_L``)."""
    length = u.shape[1]
    h = torch.einsum("lhn,blh->bhn", krylov(da, db, length), u.to(db.dtype).flip(1))
    g = krylov(da.transpose(-1, -2), c, length + 1)[1:]  # (dA^T)^{t+1} C
    y = _real(torch.einsum("lhn,bhn->blh", g, state.to(g.dtype)))
    h = h + torch.einsum("hij,bhj->bhi", torch.linalg.matrix_power(da, length), state.to(h.dtype))
    return y, h


def dense_step(da, db, c, u_t: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``u_t (B, H)``, ``state (B, H, N)`` -> (``Re(C . x_t)`` ``(B, H)``, ``x_t``)."""
    h = torch.einsum("hij,bhj->bhi", da, state.to(da.dtype)) + db * u_t.to(db.dtype)[..., None]
    return _real(torch.einsum("hn,bhn->bh", c, h)), h


def dense_reference(da, db, c, u: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The recursion step by step (full output ``Re(C . x_t)``, including the zero-state part), for tests."""
    ys, h = [], state
    for t in range(u.shape[1]):
        y, h = dense_step(da, db, c, u[:, t], h)
        ys.append(y)
    return torch.stack(ys, 1), h
