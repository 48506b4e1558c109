import pytest
import torch

from seqlab.ops.scan import linear_scan, scan_associative, scan_chunked, scan_sequential


def _inputs(length, complex_=False, h0=True, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    shape = (2, length, 3, 4)
    a = torch.rand(shape, generator=g, dtype=dtype) * 0.98
    b = torch.randn(shape, generator=g, dtype=dtype)
    if complex_:
        phase = torch.rand(shape, generator=g, dtype=dtype) * 6.28
        a = torch.polar(a, phase)
        b = torch.complex(b, torch.randn(shape, generator=g, dtype=dtype))
    h = torch.randn((2, 3, 4), generator=g, dtype=dtype).to(b.dtype) if h0 else None
    return a, b, h


@pytest.mark.parametrize("length", [1, 7, 64, 257])
@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("h0", [False, True])
def test_fast_scans_match_sequential(length, complex_, h0):
    a, b, h = _inputs(length, complex_, h0)
    ref = scan_sequential(a, b, h)
    torch.testing.assert_close(scan_associative(a, b, h), ref, rtol=1e-10, atol=1e-10)
    for chunk in (1, 5, 16, 64):
        torch.testing.assert_close(scan_chunked(a, b, h, chunk=chunk), ref, rtol=1e-10, atol=1e-10)


def test_broadcast_gate_and_gradients_match():
    g = torch.Generator().manual_seed(1)
    a = (torch.rand(2, 37, 1, generator=g, dtype=torch.float64) * 0.9).requires_grad_()
    b = torch.randn(2, 37, 5, generator=g, dtype=torch.float64, requires_grad=True)
    grads = []
    for method in ("sequential", "associative", "chunked"):
        out = linear_scan(a, b, method=method, chunk=8)
        (ga, gb) = torch.autograd.grad(out.pow(2).sum(), (a, b))
        grads.append((ga, gb))
    for ga, gb in grads[1:]:
        torch.testing.assert_close(ga, grads[0][0])
        torch.testing.assert_close(gb, grads[0][1])


def test_long_sequence_is_finite_in_fp32():
    a = torch.full((1, 65536, 8), 0.999)
    b = torch.randn(1, 65536, 8, requires_grad=True)
    h = scan_chunked(a, b, chunk=64)
    h.sum().backward()
    assert torch.isfinite(h).all() and torch.isfinite(b.grad).all()


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="broadcastable"):
        scan_chunked(torch.rand(2, 5, 3), torch.rand(2, 6, 3))
    with pytest.raises(ValueError, match="h0"):
        scan_sequential(torch.rand(2, 5, 3), torch.rand(2, 5, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="unknown scan method"):
        linear_scan(torch.rand(2, 5, 3), torch.rand(2, 5, 3), method="fft")


@pytest.mark.parametrize("complex_", [False, True])
@pytest.mark.parametrize("h0", [False, True])
def test_chunked_scan_hand_written_backward_passes_gradcheck(complex_, h0):
    # scan_chunked's backward is the adjoint scan run backwards in time: check it against finite
    # differences, for real and complex gates, with and without an initial state
    a, b, h = _inputs(11, complex_, h0)
    a, b = a[:, :, :1, :2].clone(), b[:, :, :1, :2].clone()
    h = None if h is None else h[:, :1, :2].clone().requires_grad_()
    args = (a.requires_grad_(), b.requires_grad_(), h)
    assert torch.autograd.gradcheck(lambda a, b, h: scan_chunked(a, b, h, chunk=4), args)


def test_chunked_scan_gradient_of_a_real_gate_with_complex_inputs_is_real():
    g = torch.Generator().manual_seed(2)
    a = (torch.rand(1, 9, 3, generator=g, dtype=torch.float64) * 0.9).requires_grad_()
    b = torch.randn(1, 9, 3, generator=g, dtype=torch.complex128, requires_grad=True)
    for method in ("sequential", "chunked"):
        out = linear_scan(a, b, method=method, chunk=4)
        ga, gb = torch.autograd.grad(out.abs().pow(2).sum(), (a, b))
        assert not ga.is_complex()
        if method == "sequential":
            ref = (ga, gb)
    torch.testing.assert_close(ga, ref[0])
    torch.testing.assert_close(gb, ref[1])
