"""Mamba / S6: chunked scan vs sequential loop (values, state, gradients), conv cache, init."""

import math
import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers.mamba import Mamba
from seqlab.registry import create

D = 8


def make(**kw):
    torch.manual_seed(0)
    cfg = dict(d_state=4, chunk=8, block=10)
    cfg.update(kw)
    m = Mamba(D, **cfg).double()
    with torch.no_grad():  # larger steps than the default init so the state forgets visibly
        m.dt_proj.bias.add_(2.0)
    return m


def inputs(length, batch=2, seed=1, dtype=torch.float64):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def run(m, mode, x, state=None):
    m.mode = mode
    return m.forward_with_state(x, state)


@pytest.mark.parametrize("length", [1, 13, 37])
def test_scan_equals_loop_float64(length):
    m, x = make(), inputs(length)
    with torch.no_grad():
        y_ref, (c_ref, h_ref) = run(m, "loop", x)
        y, (c, h) = run(m, "scan", x)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(h, h_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(c, c_ref)


def test_step_and_odd_chunks_equal_one_pass_float64():
    m, x = make(), inputs(23)
    with torch.no_grad():
        y_full, (c_full, h_full) = run(m, "scan", x)
        state, ys, t = None, [], 0
        for n in (1, 2, 1, 7, 12):  # pieces shorter than the conv kernel too
            y, state = m.forward_with_state(x[:, t : t + n], state)
            ys.append(y)
            t += n
        torch.testing.assert_close(torch.cat(ys, 1), y_full, atol=1e-12, rtol=1e-10)
        torch.testing.assert_close(state[1], h_full, atol=1e-12, rtol=1e-10)
        state, ys = m.init_state(2, dtype=torch.float64), []
        for t in range(x.shape[1]):
            y, state = m.step(x[:, t], state)
            ys.append(y)
        torch.testing.assert_close(torch.stack(ys, 1), y_full, atol=1e-12, rtol=1e-10)


def test_conv_cache_holds_last_inputs():
    m, x = make(), inputs(9)
    with torch.no_grad():
        _, (cache, _) = m.forward_with_state(x, None)
        x_in = m.in_proj(x).chunk(2, dim=-1)[0]
    assert cache.shape == (2, m.d_conv - 1, m.d_inner)
    torch.testing.assert_close(cache, x_in[:, -(m.d_conv - 1) :])


def test_gradients_equal_scan_and_loop():
    m = make()
    grads = {}
    for mode in ("loop", "scan"):
        m.zero_grad()
        x = inputs(19).requires_grad_()
        run(m, mode, x)[0].pow(2).sum().backward()
        grads[mode] = [x.grad] + [p.grad.clone() for p in m.parameters()]
    for g, g_ref in zip(grads["scan"], grads["loop"]):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-8)


def test_initialisation_follows_the_paper():
    m = Mamba(32, dt_min=1e-3, dt_max=0.1)
    A = -torch.exp(m.A_log)
    torch.testing.assert_close(A[0], -torch.arange(1.0, 17.0))
    dt = torch.nn.functional.softplus(m.dt_proj.bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001
    assert m.dt_rank == math.ceil(32 / 16) and m.d_inner == 64


def test_selectivity_input_changes_decay():
    """delta depends on the input: the same token decays the state differently in different contexts."""
    m, x = make(), inputs(6)
    with torch.no_grad():
        delta = m._inputs(x, m.init_state(2, dtype=torch.float64)[0])[0]
    assert delta.std(dim=1).min() > 0


def test_long_sequence_scan_is_finite_fp32():
    torch.manual_seed(0)
    m = create("mixer", "mamba", d_model=4, d_state=4, expand=1)
    x = torch.randn(1, 65536, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    y = m(x)
    y.square().mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters())


def test_bad_config_and_state_raise():
    with pytest.raises(ValueError, match="mode must be"):
        Mamba(D, mode="fft")
    with pytest.raises(ValueError, match="d_state"):
        Mamba(D, d_state=0)
    with pytest.raises(ValueError, match=r"expects a state tuple.*tuple/list of 2 entries"):
        make().forward_with_state(inputs(3), (torch.zeros(2, 3, 16),))


def test_doc_examples_run():
    page = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "selective.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(page), "exec"), {})


def test_blocks_shorter_than_the_chunk_match_loop_with_grad():
    m, x = make(chunk=64, block=3), inputs(11)
    x.requires_grad_()
    y, (_, h) = run(m, "scan", x)
    (g,) = torch.autograd.grad(y.sum(), x)
    y_ref, (_, h_ref) = run(m, "loop", x)
    (g_ref,) = torch.autograd.grad(y_ref.sum(), x)
    torch.testing.assert_close(y, y_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(h, h_ref, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g, g_ref, atol=1e-12, rtol=1e-10)
