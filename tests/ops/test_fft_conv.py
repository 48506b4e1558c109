import pytest
import torch

from seqlab.ops.fft_conv import conv_reference, fft_conv


def _data(length, k_len, seed=0, dtype=torch.float64, d=3):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(2, length, d, generator=g, dtype=dtype)
    k = torch.randn(k_len, d, generator=g, dtype=dtype)
    return u, k


@pytest.mark.parametrize("length", [1, 7, 257])
@pytest.mark.parametrize("k_len", [1, 5, 300])  # shorter than, and longer than, the input
def test_causal_matches_direct_sum(length, k_len):
    u, k = _data(length, k_len)
    torch.testing.assert_close(fft_conv(u, k), conv_reference(u, k), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("length", [1, 7, 257])
@pytest.mark.parametrize("k_len", [3, 300])
def test_bidirectional_matches_direct_sum(length, k_len):
    u, k = _data(length, k_len)
    kb = torch.randn(k_len + 2, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    torch.testing.assert_close(fft_conv(u, k, kb), conv_reference(u, k, kb), rtol=1e-10, atol=1e-10)


def test_direct_sum_is_the_stated_formula():
    u, k = _data(6, 4, d=1)
    y = conv_reference(u, k)
    t = 5
    want = sum(k[s, 0] * u[:, t - s, 0] for s in range(4))
    torch.testing.assert_close(y[:, t, 0], want)
    kb = torch.randn(3, 1, dtype=torch.float64)
    y2 = conv_reference(u, k, kb)
    t = 2
    want2 = sum(k[s, 0] * u[:, t - s, 0] for s in range(3)) + sum(kb[s, 0] * u[:, t + s, 0] for s in range(3))
    torch.testing.assert_close(y2[:, t, 0], want2)


def test_no_circular_wrap_and_causal():
    u = torch.zeros(1, 50, 1, dtype=torch.float64)
    u[0, -1] = 1.0  # impulse at the last step must not reach earlier outputs
    k = torch.ones(50, 1, dtype=torch.float64)
    y = fft_conv(u, k)
    assert y[0, :-1].abs().max() < 1e-12 and abs(y[0, -1, 0] - 1) < 1e-12


def test_float32_close_to_float64():
    u, k = _data(1000, 1000)
    y32 = fft_conv(u.float(), k.float())
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), fft_conv(u, k), rtol=1e-4, atol=1e-4)


def test_gradients_match_direct_sum():
    u, k = _data(23, 9)
    kb = torch.randn(5, 3, dtype=torch.float64)
    grads = []
    for fn in (fft_conv, conv_reference):
        args = [t.clone().requires_grad_() for t in (u, k, kb)]
        fn(*args).pow(2).sum().backward()
        grads.append([a.grad for a in args])
    for g1, g2 in zip(*grads):
        torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "u,k",
    [
        (torch.randn(2, 5), torch.randn(5, 2)),  # u not 3-d
        (torch.randn(2, 5, 3), torch.randn(5, 4)),  # channel mismatch
        (torch.randn(2, 5, 3), torch.randn(0, 3)),  # empty kernel
        (torch.randn(2, 0, 3), torch.randn(4, 3)),  # empty sequence
    ],
)
def test_bad_shapes_raise(u, k):
    with pytest.raises(ValueError, match="expects"):
        fft_conv(u, k)
