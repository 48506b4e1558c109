import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from seqlab.registry import create


def _x(length=23, batch=2, d=16, seed=0):
    return torch.randn(batch, length, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _make(name, **kw):
    torch.manual_seed(0)
    return create("mixer", name, d_model=16, n_heads=2, **kw).double()


def _heads(t, h):
    return t.unflatten(-1, (h, -1)).transpose(1, 2)


@pytest.mark.parametrize("normalize", [True, False])
def test_linear_attention_equals_direct_sum(normalize):
    m, x = _make("linear_attention", normalize=normalize, chunk=8), _x()
    q, k, v = (_heads(t, 2) for t in m.qkv(x).chunk(3, -1))
    q, k = F.elu(q) + 1, F.elu(k) + 1
    scores = (q @ k.transpose(-1, -2)).tril()  # phi(q_t) . phi(k_s), s <= t
    o = scores @ v
    if normalize:
        o = o / (scores.sum(-1, keepdim=True) + m.eps)
    want = m.out(o.transpose(1, 2).flatten(2))
    torch.testing.assert_close(m(x), want, rtol=1e-10, atol=1e-10)


def test_retention_equals_parallel_form_with_decay_matrix():
    m, x = _make("retention", chunk=8), _x()
    q, k = (_heads(t, 2) for t in m.qk(x).chunk(2, -1))
    v = _heads(m.v(x), 2)
    n = x.shape[1]
    t = torch.arange(n, dtype=torch.float64)
    gammas = torch.tensor([1 - 2.0**-5, 1 - 2.0**-6], dtype=torch.float64)
    decay = gammas[:, None, None] ** (t[:, None] - t[None, :]).clamp(min=0) * torch.ones(n, n).tril()
    o = ((q @ k.transpose(-1, -2)) / 8**0.5 * decay) @ v
    o = o.transpose(1, 2).flatten(2)
    o = m.norm(o.flatten(0, 1)).view_as(o)
    want = m.out(F.silu(m.gate(x)) * o)
    torch.testing.assert_close(m(x), want, rtol=1e-6, atol=1e-6)  # gammas stored in float32


@pytest.mark.parametrize("name", ["linear_attention", "retention"])
def test_parallel_and_step_gradients_agree_float64(name):
    m, x = _make(name, chunk=8), _x(length=19)

    def grads(run):
        m.zero_grad()
        xi = x.clone().requires_grad_()
        (run(xi) * torch.linspace(-1, 1, x.numel(), dtype=x.dtype).view_as(x)).sum().backward()
        return [xi.grad] + [p.grad.clone() for p in m.parameters()]

    def stepwise(xi):
        state, ys = None, []
        for t in range(xi.shape[1]):
            y, state = m.step(xi[:, t], state)
            ys.append(y)
        return torch.stack(ys, 1)

    for a, b in zip(grads(m), grads(stepwise)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["linear_attention", "retention"])
def test_bad_head_count_raises(name):
    with pytest.raises(ValueError, match="n_heads"):
        create("mixer", name, d_model=16, n_heads=3)


def test_state_shapes():
    la, ret = _make("linear_attention"), _make("retention")
    assert la.init_state(3).shape == (3, 2, 8, 9)
    assert ret.init_state(3).shape == (3, 2, 8, 16)


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "mixers" / "linear_attention.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/mixers/linear_attention.md", "exec"), {})
