"""CKConv: FFT path vs direct sums, irregular time stamps, cache-based chunked/step modes."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers.ckconv import CKConv
from seqlab.ops.fft_conv import conv_reference
from seqlab.registry import create


def build(**kw):
    cfg = {"max_len": 40, "seed": 0}
    cfg.update(kw)
    return CKConv(3, **cfg).double()


def _x(length, seed=1, batch=2):
    return torch.randn(batch, length, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("length", [1, 7, 57])  # 57 > max_len: the kernel is truncated
def test_fft_path_equals_direct_sum_with_mlp_kernel(length):
    m = build()
    x = _x(length)
    with torch.no_grad():
        lags = torch.arange(length, dtype=torch.float64)
        taps = m.kernel_at(lags)
        if length > 40:
            assert taps[40:].abs().max() == 0
        torch.testing.assert_close(m(x), conv_reference(x, taps) + m.D * x, rtol=1e-10, atol=1e-10)


def test_positions_are_normalised_by_max_len():
    m = build()
    with torch.no_grad():
        p = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)[:, None]
        want = m.kernel_net(p) / 40**0.5
        got = m.kernel_at(torch.tensor([0.0, 19.5, 39.0], dtype=torch.float64))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("length", [1, 7, 57])
def test_irregular_path_with_arange_times_equals_fft_path(length):
    m = build()
    x = _x(length)
    times = torch.arange(length, dtype=torch.float64).expand(2, length)
    with torch.no_grad():
        torch.testing.assert_close(m(x, times=times), m(x), rtol=1e-10, atol=1e-10)


def test_irregular_times_direct_sum():
    m = build()
    x = _x(9)
    g = torch.Generator().manual_seed(3)
    times = torch.cumsum(torch.rand(2, 9, generator=g, dtype=torch.float64) * 3, dim=1)
    with torch.no_grad():
        y = m(x, times=times)
        # y_i = sum_{j <= i} K(t_i - t_j) x_j + D x_i, one term at a time
        for b in range(2):
            for i in range(9):
                want = m.D * x[b, i]
                for j in range(i + 1):
                    want = want + m.kernel_at(times[b, i] - times[b, j]) * x[b, j]
                torch.testing.assert_close(y[b, i], want)
        # only time differences matter; a different spacing changes the output
        torch.testing.assert_close(m(x, times=times + 5.0), y)
        assert not torch.allclose(m(x, times=times * 1.5), y)


def test_bad_times_raise():
    m = build()
    x = _x(5)
    with pytest.raises(ValueError, match="times of shape"):
        m(x, times=torch.arange(5.0))
    with pytest.raises(ValueError, match="non-decreasing"):
        m(x, times=torch.tensor([[0.0, 2.0, 1.0, 3.0, 4.0]] * 2))
    with pytest.raises(ValueError, match="finite times"):
        m(x, times=torch.tensor([[0.0, 1.0, float("nan"), 3.0, 4.0]] * 2))
    with pytest.raises(ValueError, match="max_len"):
        CKConv(3, max_len=1)


def test_chunked_and_step_with_bounded_cache_equal_parallel():
    m = build(max_len=8)
    x = _x(30)
    with torch.no_grad():
        y = m(x)
        ys, state, t = [], None, 0
        for n in (5, 3, 11, 11):
            out, state = m.forward_with_state(x[:, t : t + n], state)
            ys.append(out)
            t += n
        assert state.shape == (2, 7, 3)  # cache bounded by max_len - 1
        torch.testing.assert_close(torch.cat(ys, 1), y, rtol=1e-10, atol=1e-10)
        state, steps = m.init_state(2, dtype=torch.float64), []
        for i in range(30):
            out, state = m.step(x[:, i], state)
            steps.append(out)
        torch.testing.assert_close(torch.stack(steps, 1), y, rtol=1e-10, atol=1e-10)


def test_bidirectional_uses_negative_lags():
    m = build(bidirectional=True)
    assert m.modes == ("parallel",) and not m.causal
    x = _x(25)
    with torch.no_grad():
        lags = torch.arange(25, dtype=torch.float64)
        fwd, back = m.kernel_at(lags), m.kernel_at(-lags)
        back[0] = 0
        torch.testing.assert_close(m(x), conv_reference(x, fwd, back) + m.D * x, rtol=1e-10, atol=1e-10)
        times = lags.expand(2, 25)
        torch.testing.assert_close(m(x, times=times), m(x), rtol=1e-10, atol=1e-10)


def test_gradients_fft_vs_direct_sum_float64():
    m = build()
    x = _x(13)
    times = torch.arange(13, dtype=torch.float64).expand(2, 13)
    grads = []
    for kw in ({}, {"times": times}):
        m.zero_grad()
        inp = x.clone().requires_grad_()
        m(inp, **kw).pow(2).sum().backward()
        grads.append([inp.grad] + [p.grad.clone() for p in m.parameters()])
    for name, g1, g2 in zip(["x"] + [n for n, _ in m.named_parameters()], *grads):
        torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-10, msg=f"grad of {name}")


def test_same_seed_same_kernel():
    a, b, c = (create("mixer", "ckconv", d_model=4, seed=s) for s in (1, 1, 2))
    lags = torch.arange(10.0)
    with torch.no_grad():
        assert torch.equal(a.kernel_at(lags), b.kernel_at(lags))
        assert not torch.allclose(b.kernel_at(lags), c.kernel_at(lags))


def test_long_sequence_forward_backward_is_finite():
    torch.manual_seed(0)
    m = create("mixer", "ckconv", d_model=8)
    x = torch.randn(1, 65536, 8, requires_grad=True)
    y = m(x)
    y.pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "mixers" / "ckconv.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/mixers/ckconv.md", "exec"), {})
