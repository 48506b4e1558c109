"""LSSL, S4 and S4D: kernels against direct sums, views against each other, float64 gradients."""

import re
from pathlib import Path

import pytest
import torch

from seqlab.mixers.lssl import LSSL
from seqlab.mixers.s4 import S4
from seqlab.mixers.s4d import S4D
from seqlab.ops.fft_conv import conv_reference
from seqlab.ops.hippo import discretize_dense, krylov_reference, legs, legs_dplr, legs_nplr
from seqlab.registry import create

CONFIGS = {
    "lssl": (LSSL, {}),
    "s4": (S4, {}),
    "s4d-lin-zoh": (S4D, {"init": "lin", "discretization": "zoh"}),
    "s4d-inv-zoh": (S4D, {"init": "inv", "discretization": "zoh"}),
    "s4d-lin-bilinear": (S4D, {"init": "lin", "discretization": "bilinear"}),
    "s4d-inv-bilinear": (S4D, {"init": "inv", "discretization": "bilinear"}),
}


def build(key, d_model=3, d_state=8, **kw):
    cls, cfg = CONFIGS[key]
    return cls(d_model, d_state=d_state, seed=0, **cfg, **kw).double()


def direct_kernel(m, length):
    """K_k = C dA^k dB by repeated multiplication (2 Re(...) over conjugate halves for S4D)."""
    da, db, c = m.discrete()
    if isinstance(m, S4D):
        return torch.stack([2 * (c * db * da**k).sum(-1).real for k in range(length)])
    k = torch.einsum("lhn,hn->lh", krylov_reference(da, db, length), c)
    return k.real if k.is_complex() else k


def step_loop(m, x):
    state, ys = m.init_state(x.shape[0], x.device, x.dtype), []
    for t in range(x.shape[1]):
        y, state = m.step(x[:, t], state)
        ys.append(y)
    return torch.stack(ys, 1), state


@pytest.mark.parametrize("key", list(CONFIGS))
@pytest.mark.parametrize("length", [1, 7, 257])
def test_kernel_equals_direct_sum(key, length):
    m = build(key)
    with torch.no_grad():
        k, _ = m.kernels(length)
        ref = direct_kernel(m, length)
    assert ref.abs().max() > 1e-3
    torch.testing.assert_close(k, ref, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("key", list(CONFIGS))
@pytest.mark.parametrize("length", [7, 101])
def test_conv_chunked_and_step_views_agree_float64(key, length):
    m = build(key)
    x = torch.randn(2, length, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        y = m(x)
        ys, s_end = step_loop(m, x)
        cut = length // 3 + 1
        ya, s = m.forward_with_state(x[:, :cut], None)
        yb, s2 = m.forward_with_state(x[:, cut:], s)
    torch.testing.assert_close(ys, y, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(torch.cat([ya, yb], 1), y, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(s2, s_end, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("key", ["lssl", "s4", "s4d-lin-zoh", "s4d-inv-bilinear"])
def test_float32_kernel_close_to_float64(key):
    m64 = build(key, d_model=4, d_state=16)
    m32 = build(key, d_model=4, d_state=16).float()
    with torch.no_grad():
        k64, k32 = m64.kernels(2048)[0], m32.kernels(2048)[0].double()
    assert (k32 - k64).abs().max() <= 1e-4 * k64.abs().max()


def test_s4_discretisation_is_bilinear_of_its_dplr_matrix():
    m = build("s4")
    lam, p, b, dt = m.full()
    a = torch.diag_embed(lam) - p[:, :, None] * p.conj()[:, None, :]
    with torch.no_grad():
        da, db, _ = m.discrete()
        want_a, want_b = discretize_dense(a, b, dt.to(a.dtype), "bilinear")
    torch.testing.assert_close(da, want_a, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(db, want_b, rtol=1e-10, atol=1e-10)


def test_s4_at_init_is_lssl_in_the_eigenbasis():
    """S4's DPLR system is HiPPO-LegS after a change of basis: same dt and C give LSSL's kernel."""
    n = 8
    lssl, s4 = build("lssl", d_state=n), build("s4", d_state=n)
    _, v, _, _, _ = legs_nplr(n)
    lam, p, b = legs_dplr(n)
    with torch.no_grad():  # float64-exact copies of the float32-initialised structured matrices
        lssl.A.copy_(legs(n)[0])
        lssl.B.copy_(legs(n)[1])
        s4.log_neg_re.copy_(torch.log(-lam.real).expand(3, -1))
        s4.im.copy_(lam.imag.expand(3, -1))
        s4.P.copy_(torch.view_as_real(p).expand(3, -1, -1))
        s4.B.copy_(torch.view_as_real(b).expand(3, -1, -1))
        s4.log_dt.copy_(lssl.log_dt)
        c_half = lssl.C.to(v.dtype) @ v[:, : n // 2]  # C~ = V^T C, Im >= 0 half
        s4.C.copy_(torch.view_as_real(c_half))
        torch.testing.assert_close(s4.kernels(200)[0], lssl.kernels(200)[0], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("key", ["lssl", "s4", "s4d-lin-zoh", "s4d-inv-bilinear"])
def test_gradients_match_recurrent_reference_float64(key):
    m = build(key, d_model=2, d_state=4)
    x = torch.randn(2, 9, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    grads = []
    for run in (lambda inp: m(inp), lambda inp: step_loop(m, inp)[0]):
        m.zero_grad()
        inp = x.clone().requires_grad_()
        run(inp).pow(2).sum().backward()
        grads.append([inp.grad] + [p.grad.clone() for p in m.parameters()])
    for name, g1, g2 in zip(["x"] + [n for n, _ in m.named_parameters()], *grads):
        torch.testing.assert_close(g1, g2, rtol=1e-8, atol=1e-10, msg=f"grad of {name}")


@pytest.mark.parametrize("key", ["lssl", "s4", "s4d-inv-zoh"])
def test_bidirectional_is_two_sided_convolution(key):
    m = build(key, bidirectional=True)
    assert m.modes == ("parallel",) and not m.causal
    x = torch.randn(1, 30, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    with torch.no_grad():
        k, kb = m.kernels(30)
        torch.testing.assert_close(m(x), conv_reference(x, k, kb) + m.D * x, rtol=1e-10, atol=1e-10)
        x2 = x.clone()
        x2[:, 25:] += 1.0
        assert not torch.allclose(m(x)[:, :20], m(x2)[:, :20]), "future input must reach the past"


def test_step_cache_follows_parameter_updates():
    m = build("s4").eval()
    x = torch.randn(2, 3, dtype=torch.float64)
    with torch.no_grad():
        y1, _ = m.step(x, None)
        m.log_dt.add_(0.5)
        y2, _ = m.step(x, None)
        m._cache = None
        y3, _ = m.step(x, None)
    assert not torch.allclose(y1, y2)
    torch.testing.assert_close(y2, y3)


@pytest.mark.parametrize("name", ["lssl", "s4", "s4d"])
def test_same_seed_same_parameters(name):
    a, b, c = (create("mixer", name, d_model=4, seed=s) for s in (7, 7, 8))
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), n
    assert any(not torch.equal(q, r) for q, r in zip(b.parameters(), c.parameters()))


@pytest.mark.parametrize(
    "name,cfg,match",
    [
        ("s4", {"d_state": 7}, "even"),
        ("lssl", {"d_state": 0}, "even"),
        ("s4d", {"init": "legs"}, "lin, inv"),
        ("s4d", {"discretization": "euler"}, "zoh, bilinear"),
        ("s4", {"dt_min": 0.1, "dt_max": 0.01}, "dt_min"),
    ],
)
def test_bad_config_raises(name, cfg, match):
    with pytest.raises(ValueError, match=match):
        create("mixer", name, d_model=4, **cfg)


@pytest.mark.parametrize("name", ["lssl", "s4", "s4d"])
def test_long_sequence_forward_backward_is_finite(name):
    torch.manual_seed(0)
    m = create("mixer", name, d_model=8)
    x = torch.randn(1, 65536, 8, requires_grad=True)
    y = m(x)
    y.pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    for p_name, p in m.named_parameters():
        assert torch.isfinite(p.grad).all(), p_name


def test_docs_example_runs():
    text = (Path(__file__).parents[2] / "docs" / "mixers" / "ssm.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/mixers/ssm.md", "exec"), {})


@pytest.mark.parametrize("key", ["s4", "s4d-lin-zoh", "s4d-inv-bilinear"])
def test_kernel_in_blocks_equals_one_block_with_gradients(key, monkeypatch):
    # long kernels are generated over blocks of frequencies / positions (checkpointed): force
    # small blocks and compare values and parameter gradients with the one-block computation
    from seqlab.mixers import s4 as s4_module
    from seqlab.mixers import s4d as s4d_module

    m = build(key, d_model=2, d_state=4)
    x = torch.randn(2, 45, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    results = []
    for numel in (2**21, 10):  # one block; blocks of 10 // (H * N) -> 1 or 2 entries
        for module in (s4_module, s4d_module):
            monkeypatch.setattr(module, "KERNEL_BLOCK_NUMEL", numel)
        m.zero_grad()
        y = m(x)
        y.pow(2).sum().backward()
        results.append((y.detach(), [p.grad.clone() for p in m.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-10, atol=1e-12)
    for g_blocks, g_one in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(g_blocks, g_one, rtol=1e-9, atol=1e-12)
