"""HiPPO matrices, their structured forms, and discretisations of ``x' = A x + B u``.

HiPPO-LegS (Gu et al., "HiPPO: Recurrent Memory with Optimal Polynomial Projections",
arXiv 2008.07919; used by LSSL arXiv 2110.13985 and S4 arXiv 2111.00396)::

    A_nk = -sqrt(2n+1) sqrt(2k+1)  (n > k),   -(n+1)  (n = k),   0  (n < k);    B_n = sqrt(2n+1)

Normal plus low rank (S4): with ``p_n = sqrt(n + 1/2)``, ``S = A + p p^T = -I/2 + (skew-symmetric)``
is normal, so ``S = V Lambda V^*`` with unitary ``V`` and ``Lambda = -1/2 + i w``; hence
``A = V Lambda V^* - P Q^*`` with ``P = Q = p``. The eigenvalues come in conjugate pairs, so a
real system is stored by the half with ``Im >= 0`` (:func:`legs_dplr`).

Diagonal initialisations (S4D, "On the Parameterization and Initialization of Diagonal State
Space Models", arXiv 2206.11893), ``n = 0 .. N/2 - 1``::

    S4D-Lin:  lambda_n = -1/2 + i pi n
    S4D-Inv:  lambda_n = -1/2 + i (N / pi) (N / (2n + 1) - 1)

Discretisations with step ``dt``::

    ZOH:       dA = exp(dt A),                         dB = A^{-1} (dA - I) B
    bilinear:  dA = (I - dt/2 A)^{-1} (I + dt/2 A),    dB = (I - dt/2 A)^{-1} dt B
"""

from __future__ import annotations

import math

import torch

METHODS = ("zoh", "bilinear")


def _check_n(n: int, even: bool = False) -> None:
    if not isinstance(n, int) or n < 1 or (even and n % 2):
        want = "a positive even int" if even else "a positive int"
        raise ValueError(f"state size N must be {want}, got {n!r}")


def legs(n: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """HiPPO-LegS ``(A (N, N), B (N,))``."""
    _check_n(n)
    q = torch.sqrt(2 * torch.arange(n, dtype=torch.float64) + 1)
    a = -torch.tril(q[:, None] * q[None, :], diagonal=-1) - torch.diag(torch.arange(1, n + 1).double())
    return a.to(dtype), q.to(dtype)


def legs_nplr(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(Lambda (N,), V (N, N), P (N, 1), Q (N, 1), B (N,))`` with ``A = V diag(Lambda) V^* - P Q^*``.

    Complex128, in the original basis. ``V`` is unitary; its columns for conjugate eigenvalues
    are conjugates of each other (first the half with ``Im Lambda > 0``, then their conjugates).
    """
    _check_n(n, even=True)
    a, b = legs(n)
    p = torch.sqrt(torch.arange(n, dtype=torch.float64) + 0.5)
    skew = a + p[:, None] * p[None, :] + 0.5 * torch.eye(n, dtype=torch.float64)
    w, v = torch.linalg.eigh(-1j * skew.to(torch.complex128))  # -i S_skew is Hermitian
    top = w.argsort(descending=True)[: n // 2]  # Im > 0 half
    lam_h = torch.complex(torch.full_like(w[top], -0.5), w[top])
    v_h = v[:, top]
    lam = torch.cat([lam_h, lam_h.conj()])
    vv = torch.cat([v_h, v_h.conj()], dim=1)
    pc = p.to(torch.complex128)[:, None]
    return lam, vv, pc, pc.clone(), b.to(torch.complex128)


def legs_dplr(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Half (``Im >= 0``) of the diagonalised LegS system: ``(Lambda, P~ = V^* p, B~ = V^* B)``, each (N/2,).

    The full system is ``diag(Lambda) - P~ P~^*`` over ``cat(x, conj(x))`` of each vector.
    """
    lam, v, p, _, b = legs_nplr(n)
    half = n // 2
    return lam[:half], (v.conj().T @ p)[:half, 0], (v.conj().T @ b)[:half]


def s4d_init(n: int, kind: str = "lin") -> torch.Tensor:
    """S4D-Lin or S4D-Inv eigenvalues, the ``N/2`` with ``Im >= 0`` (complex128)."""
    _check_n(n, even=True)
    idx = torch.arange(n // 2, dtype=torch.float64)
    if kind == "lin":
        imag = math.pi * idx
    elif kind == "inv":
        imag = (n / math.pi) * (n / (2 * idx + 1) - 1)
    else:
        raise ValueError(f"unknown S4D init {kind!r}; valid: lin, inv")
    return torch.complex(torch.full_like(idx, -0.5), imag)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown discretization {method!r}; valid: {', '.join(METHODS)}")


def discretize_diag(
    lam: torch.Tensor, b: torch.Tensor, dt: torch.Tensor, method: str = "zoh"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Diagonal ``A = diag(lam)``: elementwise ``(dA, dB)``; ``lam``, ``b``, ``dt`` broadcast."""
    _check_method(method)
    z = dt * lam
    if method == "zoh":
        da = torch.exp(z)
        return da, (da - 1) / lam * b
    denom = 1 - z / 2
    return (1 + z / 2) / denom, dt / denom * b


def discretize_dense(
    a: torch.Tensor, b: torch.Tensor, dt: torch.Tensor, method: str = "bilinear"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense ``A (..., N, N)``, ``B (..., N)``, ``dt (...)``: ``(dA (..., N, N), dB (..., N))``.

    ZOH uses the exponential of the augmented matrix ``[[A, B], [0, 0]] dt`` (no inverse of A).
    """
    _check_method(method)
    n = a.shape[-1]
    dt = dt[..., None, None]
    if method == "zoh":
        a, b = torch.broadcast_tensors(a, b[..., None])
        top = torch.cat([a, b[..., :1]], dim=-1) * dt  # (..., N, N + 1)
        e = torch.linalg.matrix_exp(torch.cat([top, torch.zeros_like(top[..., :1, :])], dim=-2))
        return e[..., :n, :n], e[..., :n, n]
    eye = torch.eye(n, dtype=a.dtype, device=a.device)
    left = eye - dt / 2 * a
    da = torch.linalg.solve(left, eye + dt / 2 * a)
    db = torch.linalg.solve(left, (dt[..., 0] * b)[..., None])[..., 0]
    return da, db


def krylov(a: torch.Tensor, b: torch.Tensor, length: int) -> torch.Tensor:
    """``(length, ..., N)`` stack of ``a^k b`` for ``k < length`` (``a (..., N, N)``, ``b (..., N)``).

    Doubling: ``[X, a^m X]`` with ``a^m`` squared each round, so log2(length) matrix products.
    """
    if length < 1:
        raise ValueError(f"krylov length must be >= 1, got {length}")
    x = b.unsqueeze(0)
    power = a
    while x.shape[0] < length:
        x = torch.cat([x, torch.einsum("...ij,l...j->l...i", power, x)], dim=0)
        if x.shape[0] < length:
            power = power @ power
    return x[:length]


def krylov_kernel(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, length: int) -> torch.Tensor:
    """``(length, ...)`` kernel ``K_k = c . a^k b`` without the ``(length, ..., N)`` Krylov stack.

    Two levels: with a block of ``m ~ sqrt(length)`` steps, ``K_{i m + j} = (c a^{i m}) . (a^j b)``,
    so ``m`` right vectors ``a^j b`` and ``length / m`` left vectors ``(a^T)^{i m} c`` (both by
    :func:`krylov`) and one contraction: O(sqrt(L) N^2 + L N) work and memory per channel where the
    full stack takes O(L N^2) and O(L N).
    """
    if length < 1:
        raise ValueError(f"krylov_kernel length must be >= 1, got {length}")
    m = 1 << max(0, math.ceil(math.log2(length) / 2))
    n = -(-length // m)
    right = krylov(a, b, m)  # (m, ..., N): a^j b
    left = krylov(torch.linalg.matrix_power(a, m).transpose(-1, -2), c, n)  # (n, ..., N): (a^T)^{i m} c
    k = torch.einsum("j...k,i...k->ij...", right, left)
    return k.reshape(n * m, *k.shape[2:])[:length]


def krylov_reference(a: torch.Tensor, b: torch.Tensor, length: int) -> torch.Tensor:
    """Reference for :func:`krylov`: one matrix-vector product per power."""
    out = [b]
    for _ in range(length - 1):
        out.append(torch.einsum("...ij,...j->...i", a, out[-1]))
    return torch.stack(out, dim=0)
