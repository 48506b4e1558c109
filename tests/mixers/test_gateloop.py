"""GateLoop: recurrent, scan and surrogate-attention modes agree (values, carried state, gradients)."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers.gateloop import GateLoop
from seqlab.registry import create

D = 8


def make(**kw):
    torch.manual_seed(0)
    cfg = dict(n_heads=2, chunk=8, block=10)
    cfg.update(kw)
    m = GateLoop(D, **cfg).double()
    with torch.no_grad():  # non-trivial phases so the complex part matters
        m.gates.weight.mul_(3.0)
    return m


def inputs(length, batch=2, seed=1, dtype=torch.float64):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def run(m, mode, x, state=None):
    m.mode = mode
    return m.forward_with_state(x, state)


@pytest.mark.parametrize("length", [1, 13, 37])
def test_three_modes_agree_float64(length):
    m, x = make(), inputs(length)
    with torch.no_grad():
        y_ref, s_ref = run(m, "recurrent", x)
        for mode in ("scan", "attention"):
            y, s = run(m, mode, x)
            torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
            torch.testing.assert_close(s, s_ref, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("mode", ["scan", "recurrent", "attention"])
def test_carried_state_equals_one_pass(mode):
    m, x = make(), inputs(29)
    with torch.no_grad():
        y_full, s_full = run(m, mode, x)
        ya, s = run(m, mode, x[:, :11])
        yb, s = run(m, mode, x[:, 11:], s)
    torch.testing.assert_close(torch.cat([ya, yb], 1), y_full, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(s, s_full, atol=1e-12, rtol=1e-10)


def test_phase_matters():
    m, x = make(), inputs(20)
    with torch.no_grad():
        y = m(x)
        m.gates.weight[m.n_heads * m.d_k :] = 0.0  # phases -> 0: a real recurrence
        assert not torch.allclose(m(x), y, atol=1e-6)


def test_gradients_equal_between_modes():
    m = make()
    grads = {}
    for mode in ("recurrent", "scan", "attention"):
        m.zero_grad()
        x = inputs(19).requires_grad_()
        run(m, mode, x)[0].pow(2).sum().backward()
        grads[mode] = [x.grad] + [p.grad.clone() for p in m.parameters()]
    for mode in ("scan", "attention"):
        for g, g_ref in zip(grads[mode], grads["recurrent"]):
            torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


def test_attention_mode_never_exponentiates_positive_exponents():
    m = make()
    with torch.no_grad():  # |a_t| ~ e^-60: cumulative log-gates reach -3000
        m.gates.bias[: m.n_heads * m.d_k] = -60.0
    x = inputs(50).requires_grad_()
    y_att, _ = run(m, "attention", x)
    y_att.sum().backward()
    assert torch.isfinite(y_att).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())
    with torch.no_grad():
        torch.testing.assert_close(y_att, run(m, "recurrent", x)[0], atol=1e-12, rtol=1e-10)


def test_scan_in_blocks_matches_one_block_with_grad():
    m, x = make(), inputs(23)
    x.requires_grad_()
    m.block = 5
    y5 = m(x)
    (g5,) = torch.autograd.grad(y5.sum(), x)
    m.block = 1000
    y1 = m(x)
    (g1,) = torch.autograd.grad(y1.sum(), x)
    torch.testing.assert_close(y5, y1, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g5, g1, atol=1e-12, rtol=1e-10)


def test_long_sequence_scan_is_finite_fp32():
    torch.manual_seed(0)
    m = create("mixer", "gateloop", d_model=4, n_heads=1, d_k=2, d_v=2)
    x = torch.randn(1, 65536, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    y = m(x)
    y.square().mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_state_is_complex_and_checked():
    m = make()
    s = m.init_state(3, dtype=torch.float64)
    assert s.dtype == torch.complex128 and s.shape == (3, 2, m.d_k, m.d_v)
    with pytest.raises(ValueError, match=r"expects a state \(2, 2, 4, 4\) complex128.*got \(2, 2, 4, 4\) fl"):
        m.forward_with_state(inputs(4), torch.zeros(2, 2, 4, 4))
    with pytest.raises(ValueError, match="mode must be one of"):
        GateLoop(D, mode="fft")
    with pytest.raises(ValueError, match="n_heads"):
        GateLoop(D, n_heads=3)


def test_doc_examples_run():
    page = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "gateloop.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(page), "exec"), {})


def test_automatic_block_length_follows_the_state_budget(monkeypatch):
    import seqlab.ops.blockwise as gl

    m, x = make(block=None), inputs(21)
    monkeypatch.setattr(gl, "BLOCK_NUMEL", 2 * m.n_heads * m.d_k * m.d_v * 3)  # 3 steps per block
    calls = []
    original = gl.checkpoint
    monkeypatch.setattr(gl, "checkpoint", lambda *a, **k: calls.append(1) or original(*a, **k))
    x.requires_grad_()
    y = m(x)
    assert len(calls) == 7  # ceil(21 / 3) checkpointed blocks
    with torch.no_grad():
        torch.testing.assert_close(y, run(m, "recurrent", x)[0], atol=1e-12, rtol=1e-10)


def test_blocks_shorter_than_the_chunk_match_recurrent_with_grad():
    m, x = make(chunk=64, block=3), inputs(11)
    x.requires_grad_()
    y, s = run(m, "scan", x)
    (g,) = torch.autograd.grad(y.sum(), x)
    y_ref, s_ref = run(m, "recurrent", x)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(s, s_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g, g_ref, atol=1e-12, rtol=1e-10)
