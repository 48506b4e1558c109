"""Elman RNN / LSTM / GRU: fused torch loop vs the cell equations, state layout, bidirectional."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers.recurrent_base import cell_loop
from seqlab.registry import create

D = 6
KINDS = ["rnn", "lstm", "gru"]


def make(kind, **kw):
    torch.manual_seed(0)
    return create("mixer", kind, d_model=D, **kw).double()


def inputs(length, batch=2, seed=1):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("kind", KINDS)
def test_fused_equals_cell_equations(kind):
    m, x = make(kind, n_layers=2, d_hidden=5), inputs(13)
    with torch.no_grad():
        m.mode = "fused"
        y, s = m.forward_with_state(x, None)
        m.mode = "loop"
        y_ref, s_ref = m.forward_with_state(x, None)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    for a, b in zip(s if kind == "lstm" else (s,), s_ref if kind == "lstm" else (s_ref,)):
        assert a.shape == (2, 2, 5)  # batch first: (batch, n_layers, d_hidden)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_equal_fused_and_loop(kind):
    m = make(kind, n_layers=2)
    grads = {}
    for mode in ("loop", "fused"):
        m.zero_grad()
        m.mode = mode
        x = inputs(11).requires_grad_()
        m(x).pow(2).sum().backward()
        grads[mode] = [x.grad] + [p.grad.clone() for p in m.parameters()]
    for g, g_ref in zip(grads["fused"], grads["loop"]):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("kind", KINDS)
def test_step_and_carried_state_float64(kind):
    m, x = make(kind, n_layers=2), inputs(10)
    with torch.no_grad():
        y_full = m(x)
        ya, s = m.forward_with_state(x[:, :4], None)
        ys = [ya]
        for t in range(4, 10):
            y, s = m.step(x[:, t], s)
            ys.append(y[:, None])
    torch.testing.assert_close(torch.cat(ys, 1), y_full, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_is_forward_plus_reversed_pass(kind):
    m, x = make(kind, bidirectional=True), inputs(9)
    assert not m.causal and m.modes == ("parallel",)
    rnn = m.rnn
    uni = create("mixer", kind, d_model=D).double().rnn
    with torch.no_grad():
        hidden = rnn(x)[0]
        h0 = torch.zeros(1, 2, m.d_hidden, dtype=torch.float64)
        c0 = h0 if kind == "lstm" else None
        fwd = cell_loop(kind, rnn, x, h0, c0)[0]
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(uni, f"{name}_l0").copy_(getattr(rnn, f"{name}_l0_reverse"))
        bwd = cell_loop(kind, uni, x.flip(1), h0, c0)[0].flip(1)
    torch.testing.assert_close(hidden, torch.cat([fwd, bwd], -1), atol=1e-12, rtol=1e-10)
    x2 = x.clone()
    x2[:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(m(x)[:, 0], m(x2)[:, 0]), "bidirectional output must see the future"
    with pytest.raises(NotImplementedError):
        m.step(x[:, 0], None)


def test_bad_config_and_state_raise():
    with pytest.raises(ValueError, match="mode must be"):
        create("mixer", "gru", d_model=D, mode="cudnn")
    with pytest.raises(ValueError, match="fused"):
        create("mixer", "lstm", d_model=D, bidirectional=True, mode="loop")
    with pytest.raises(ValueError, match=r"expects a state tuple\(\(2, 1, 6\) float64, \(2, 1, 6\) float64"):
        make("lstm").forward_with_state(inputs(3), torch.zeros(2, 1, D, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expects a state \(2, 1, 6\).*got \(1, 2, 6\)"):
        make("rnn").forward_with_state(inputs(3), torch.zeros(1, 2, D, dtype=torch.float64))


def test_doc_examples_run():
    page = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "rnn.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(page), "exec"), {})


def test_stable_rnn_recurrent_matrix_is_negative_semidefinite_for_any_parameters():
    m = make("rnn", stable=True, n_layers=2, d_hidden=7)
    with torch.no_grad():
        m.rnn.P.normal_(generator=torch.Generator().manual_seed(3))  # not orthogonal any more
        m.rnn.w.uniform_(-6, 6, generator=torch.Generator().manual_seed(4))
    for layer in range(2):
        W = m.rnn.recurrent_matrix(layer)
        torch.testing.assert_close(W, W.T)
        assert torch.linalg.eigvalsh(W).max() <= 1e-10


def test_stable_rnn_follows_its_euler_step():
    m, x = make("rnn", stable=True, dt=0.3), inputs(2)
    core = m.rnn
    with torch.no_grad():
        W = -core.P[0].T @ torch.diag(torch.nn.functional.softplus(core.w[0])) @ core.P[0]
        h1 = 0.3 * torch.tanh(core.inp[0](x[:, 0]))
        h2 = h1 + 0.3 * torch.tanh(core.inp[0](x[:, 1]) + h1 @ W.T)
        y, h = m.forward_with_state(x, None)
    torch.testing.assert_close(h[:, 0], h2)
    torch.testing.assert_close(y, m.out(torch.stack([h1, h2], 1)))


def test_stable_rnn_modes_agree_and_gradients_flow():
    m, x = make("rnn", stable=True, n_layers=2), inputs(12)
    with torch.no_grad():
        y = m(x)
        ya, s = m.forward_with_state(x[:, :5], None)
        ys = [ya]
        for t in range(5, 12):
            yt, s = m.step(x[:, t], s)
            ys.append(yt[:, None])
    torch.testing.assert_close(torch.cat(ys, 1), y, atol=1e-12, rtol=1e-10)
    x = x.requires_grad_()
    m(x).square().sum().backward()
    assert torch.isfinite(x.grad).all() and m.rnn.w.grad.abs().sum() > 0 and m.rnn.P.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="bidirectional=False"):
        create("mixer", "rnn", d_model=D, stable=True, bidirectional=True)


@pytest.mark.parametrize("kind", KINDS)
def test_long_inputs_run_the_fused_kernel_in_segments_with_the_same_result(kind, monkeypatch):
    # cuDNN refuses very long sequences; the fused path splits them and carries the state
    from seqlab.mixers import recurrent_base as rnn

    m, x = make(kind, n_layers=2), inputs(23)
    with torch.no_grad():
        y, s = m.forward_with_state(x, None)
        monkeypatch.setattr(rnn, "FUSED_MAX_STEPS", 5)
        y_seg, s_seg = m.forward_with_state(x, None)
    torch.testing.assert_close(y_seg, y, atol=1e-12, rtol=1e-10)
    for a, b in zip(s_seg if kind == "lstm" else (s_seg,), s if kind == "lstm" else (s,)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)
