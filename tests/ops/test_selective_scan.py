"""The fused selective scan (Triton, run by the CPU interpreter) and its PyTorch path vs the loop."""

import pytest
import torch

from seqlab.mixers.mamba import Mamba
from seqlab.ops.selective_scan import selective_scan, selective_scan_reference


def _inputs(bsz=1, length=9, d=40, n=3, seed=0, h0=True):
    g = torch.Generator().manual_seed(seed)
    delta = 0.5 * torch.rand(bsz, length, d, generator=g)
    A = -2 * torch.rand(d, n, generator=g)
    B, C = torch.randn(bsz, length, n, generator=g), torch.randn(bsz, length, n, generator=g)
    x = torch.randn(bsz, length, d, generator=g)
    return [delta, A, B, C, x, torch.randn(bsz, d, n, generator=g) if h0 else None]


def _run(fn, tensors, **kw):
    ts = [None if t is None else t.clone().requires_grad_() for t in tensors]
    y, h = fn(*ts, **kw)
    w = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    ((y * w).sum() + h.square().sum()).backward()
    return y.detach(), h.detach(), [None if t is None else t.grad for t in ts]


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("h0", [True, False], ids=["h0", "zero-state"])
def test_backends_equal_the_loop(backend, h0):
    # d = 40 spans two channel blocks of the kernel; L = 9 does not divide the chunk of 4
    x = _inputs(h0=h0)
    y, h, grads = _run(selective_scan, x, chunk=4, backend=backend)
    y_r, h_r, grads_r = _run(selective_scan_reference, [None if t is None else t.double() for t in x])
    torch.testing.assert_close(y.double(), y_r, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(h.double(), h_r, rtol=1e-4, atol=1e-4)
    for name, a, b in zip(("delta", "A", "B", "C", "x", "h0"), grads, grads_r):
        if b is None:
            continue
        torch.testing.assert_close(a.double(), b, rtol=1e-4, atol=1e-4, msg=lambda m, n=name: f"d{n}: {m}")


def test_mamba_triton_backend_equals_its_pytorch_path():
    torch.manual_seed(0)
    a, b = Mamba(8, d_state=4, chunk=4, backend="triton"), Mamba(8, d_state=4, chunk=4, backend="torch")
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 11, 8)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=1e-4, atol=1e-5)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-3, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")


def test_bad_input_is_refused():
    delta, A, B, C, x, h0 = _inputs(length=4)
    with pytest.raises(ValueError, match=r"A of shape \(D=40, N\)"):
        selective_scan(delta, A[:3], B, C, x)
    with pytest.raises(ValueError, match="C of shape"):
        selective_scan(delta, A, B, C[:, :2], x)
    with pytest.raises(ValueError, match="h0 of shape"):
        selective_scan(delta, A, B, C, x, h0[:, :3])
    with pytest.raises(ValueError, match="non-empty"):
        selective_scan(delta[:, :0], A, B[:, :0], C[:, :0], x[:, :0])
    with pytest.raises(ValueError, match="backend must be one of"):
        selective_scan(delta, A, B, C, x, backend="cuda")
    with pytest.raises(ValueError, match="backend"):
        Mamba(8, backend="fast")
