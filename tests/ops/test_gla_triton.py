"""The Triton in-chunk kernels of the chunked gated recurrence, run by Triton's CPU interpreter.

Checked against the plain PyTorch backend and the step-by-step recurrence (outputs, final state and
every gradient), per key dim and scalar gates, at lengths that do not divide the chunk.
"""

import pytest
import torch

from seqlab.ops import gla_triton
from seqlab.ops.gla import gla_chunked, gla_recurrent


@pytest.fixture(autouse=True, scope="module")
def interpreter():
    """On CPU, tests/conftest.py switched Triton's interpreter on before triton was imported."""
    if not torch.cuda.is_available():
        assert gla_triton.interpreting(), "TRITON_INTERPRET=1 must be set before triton is imported"


def _inputs(per_dim, length=37, d=8, dv=5, seed=0, strength=1.0):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(1, 2, length, d, generator=g) for _ in range(2))
    v = torch.randn(1, 2, length, dv, generator=g)
    shape = (1, 2, length, d) if per_dim else (1, 2, length)
    log_g = -strength * torch.rand(shape, generator=g)
    s0 = torch.randn(1, 2, d, dv, generator=g)
    return q, k, v, log_g, s0


def _run(fn, tensors, **kw):
    ts = [t.clone().requires_grad_() for t in tensors]
    o, state = fn(*ts[:4], initial_state=ts[4], **kw)
    w = torch.linspace(-1, 1, o.numel()).view_as(o)
    ((o * w).sum() + state.square().sum()).backward()
    return o.detach(), state.detach(), [t.grad for t in ts]


@pytest.mark.parametrize("per_dim", [True, False], ids=["per-dim", "scalar"])
@pytest.mark.parametrize("chunk", [8, 16])
def test_triton_backend_equals_torch_and_the_recurrence(per_dim, chunk):
    x = _inputs(per_dim)
    o, s, grads = _run(gla_chunked, x, chunk=chunk, backend="triton")
    o_t, s_t, grads_t = _run(gla_chunked, x, chunk=chunk, backend="torch")
    o_r, s_r, _ = _run(gla_recurrent, [t.double() for t in x])
    torch.testing.assert_close(o, o_t, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(s, s_t, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(o.double(), o_r, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(s.double(), s_r, rtol=1e-4, atol=1e-4)
    for name, a, b in zip(("q", "k", "v", "log_g", "state"), grads, grads_t):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3, msg=lambda m, n=name: f"grad {n}: {m}")


def test_strong_decay_stays_finite():
    x = _inputs(True, length=20, strength=60.0)  # exp(-c_s) alone would overflow float32
    o, s, grads = _run(gla_chunked, x, chunk=16, backend="triton")
    assert torch.isfinite(o).all() and torch.isfinite(s).all()
    assert all(torch.isfinite(g).all() for g in grads)
    o_t, _, grads_t = _run(gla_chunked, x, chunk=16, backend="torch")
    torch.testing.assert_close(o, o_t, rtol=1e-4, atol=1e-4)


def test_kernels_accept_non_contiguous_views():
    q, k, v, log_g, s0 = _inputs(True, length=16, d=6)
    qt = q.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    assert not qt.is_contiguous()
    a = gla_chunked(qt, k, v, log_g, chunk=8, backend="triton")[0]
    b = gla_chunked(q, k, v, log_g, chunk=8, backend="torch")[0]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_backend_errors_are_clear(monkeypatch):
    q, k, v, log_g, _ = _inputs(True, length=4)
    with pytest.raises(ValueError, match="backend must be one of"):
        gla_chunked(q, k, v, log_g, backend="cuda")
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        gla_chunked(q, k, v, log_g, backend="triton")
    # the default picks PyTorch for CPU tensors, whatever is installed
    assert gla_chunked(q, k, v, log_g)[0].shape == (1, 2, 4, 5)
