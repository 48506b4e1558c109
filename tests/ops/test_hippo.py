import math

import pytest
import torch

from seqlab.ops.hippo import (
    discretize_dense,
    discretize_diag,
    krylov,
    krylov_kernel,
    krylov_reference,
    legs,
    legs_dplr,
    legs_nplr,
    s4d_init,
)

F64 = {"rtol": 1e-10, "atol": 1e-10}


def test_legs_entries():
    a, b = legs(5)
    for n in range(5):
        assert b[n] == pytest.approx(math.sqrt(2 * n + 1))
        for k in range(5):
            want = -math.sqrt((2 * n + 1) * (2 * k + 1)) if n > k else (-(n + 1) if n == k else 0.0)
            assert a[n, k] == pytest.approx(want)


@pytest.mark.parametrize("n", [2, 8, 64])
def test_nplr_reconstructs_legs(n):
    lam, v, p, q, b = legs_nplr(n)
    a, b_real = legs(n)
    eye = torch.eye(n, dtype=torch.complex128)
    torch.testing.assert_close(v.conj().T @ v, eye, **F64)
    torch.testing.assert_close(v @ torch.diag(lam) @ v.conj().T - p @ q.conj().T, a.to(lam.dtype), **F64)
    torch.testing.assert_close(lam.real, torch.full((n,), -0.5, dtype=torch.float64), **F64)
    torch.testing.assert_close(lam[n // 2:], lam[: n // 2].conj(), **F64)
    torch.testing.assert_close(b.real, b_real, **F64)


def test_dplr_half_gives_a_system_similar_to_legs():
    n = 16
    lam, p, b = legs_dplr(n)
    full = lambda z: torch.cat([z, z.conj()])  # noqa: E731
    a_diag = torch.diag(full(lam)) - full(p)[:, None] * full(p).conj()[None, :]
    a, _ = legs(n)
    # similar matrices: equal traces of powers
    for k in range(1, 6):
        t1 = torch.trace(torch.linalg.matrix_power(a_diag, k))
        t2 = torch.trace(torch.linalg.matrix_power(a.to(t1.dtype), k))
        assert abs(t1 - t2) <= 1e-9 * abs(t2)
    # B~ = V^* B, so |B~| summed over the full system equals |B|^2
    assert float(2 * (b.abs() ** 2).sum()) == pytest.approx(float(legs(n)[1].pow(2).sum()))


def test_s4d_inits():
    lin, inv = s4d_init(8, "lin"), s4d_init(8, "inv")
    assert torch.allclose(lin.real, torch.tensor(-0.5, dtype=torch.float64))
    torch.testing.assert_close(lin.imag, math.pi * torch.arange(4, dtype=torch.float64))
    want = torch.tensor([(8 / math.pi) * (8 / (2 * k + 1) - 1) for k in range(4)], dtype=torch.float64)
    torch.testing.assert_close(inv.imag, want)
    with pytest.raises(ValueError, match="lin, inv"):
        s4d_init(8, "legs")
    with pytest.raises(ValueError, match="even"):
        s4d_init(7)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_diag_discretization_matches_dense(method):
    g = torch.Generator().manual_seed(0)
    lam = torch.complex(-torch.rand(5, generator=g, dtype=torch.float64) - 0.1,
                        torch.randn(5, generator=g, dtype=torch.float64))
    b = torch.randn(5, generator=g, dtype=torch.float64).to(lam.dtype)
    dt = torch.tensor(0.3, dtype=torch.float64)
    da, db = discretize_diag(lam, b, dt, method)
    dA, dB = discretize_dense(torch.diag(lam), b, dt, method)
    torch.testing.assert_close(torch.diag(dA), da, **F64)
    torch.testing.assert_close(dA - torch.diag(torch.diag(dA)), torch.zeros_like(dA), **F64)
    torch.testing.assert_close(dB, db, **F64)


def test_dense_discretizations_are_the_formulas():
    g = torch.Generator().manual_seed(1)
    a = -torch.eye(4, dtype=torch.float64) + 0.3 * torch.randn(4, 4, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    dt = torch.tensor([0.1, 0.7], dtype=torch.float64)  # batched steps
    eye = torch.eye(4, dtype=torch.float64)
    da, db = discretize_dense(a, b, dt, "zoh")
    for i, s in enumerate(dt):
        e = torch.linalg.matrix_exp(s * a)
        torch.testing.assert_close(da[i], e, **F64)
        torch.testing.assert_close(db[i], torch.linalg.solve(a, (e - eye) @ b), **F64)
    da, db = discretize_dense(a, b, dt, "bilinear")
    for i, s in enumerate(dt):
        inv = torch.linalg.inv(eye - s / 2 * a)
        torch.testing.assert_close(da[i], inv @ (eye + s / 2 * a), **F64)
        torch.testing.assert_close(db[i], inv @ (s * b), **F64)
    with pytest.raises(ValueError, match="zoh, bilinear"):
        discretize_dense(a, b, dt, "euler")


@pytest.mark.parametrize("length", [1, 7, 257])
def test_krylov_matches_reference(length):
    g = torch.Generator().manual_seed(2)
    a = torch.randn(3, 6, 6, generator=g, dtype=torch.float64) / 4
    b = torch.randn(3, 6, generator=g, dtype=torch.float64)
    torch.testing.assert_close(krylov(a, b, length), krylov_reference(a, b, length), **F64)


@pytest.mark.parametrize("length", [1, 2, 3, 17, 64, 100])
def test_krylov_kernel_matches_the_krylov_stack(length):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(2, 4, 4, generator=g, dtype=torch.float64) * 0.4
    b = torch.randn(2, 4, generator=g, dtype=torch.float64)
    c = torch.randn(2, 4, generator=g, dtype=torch.float64)
    want = torch.einsum("lhn,hn->lh", krylov_reference(a, b, length), c)
    torch.testing.assert_close(krylov_kernel(a, b, c, length), want, **F64)
