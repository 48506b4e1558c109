"""Attention without an L x L tensor: query-blocked ALiBi/URPE/reference paths and the KV-cache path.

Each is compared with the full masked reference (explicit softmax over an L x L mask) at lengths
that do not divide the block size; a subprocess with a capped heap runs L = 20000 through
``forward_with_state``, where a single L x L float tensor (1.6 GB) would not fit.
"""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from seqlab.mixers.attention import attention_reference
from seqlab.mixers.base import reset_state
from seqlab.registry import create

D = 16


def _attn(pos="alibi", causal=True, window=None, sdpa=True, block=7):
    torch.manual_seed(0)
    m = create("mixer", "attention", d_model=D, n_heads=4, pos=pos, causal=causal, window=window, sdpa=sdpa)
    if m.urpe is not None:
        with torch.no_grad():  # a non-trivial Toeplitz factor
            m.urpe.coef.uniform_(0.5, 1.5)
    m.query_block = block
    return m.eval()


def _reference(m, x):
    """The whole L x L computation in one explicit softmax."""
    b, length, _ = x.shape
    pos = torch.arange(length).expand(b, length)
    q, k, v = m.project(x, pos)
    i, j = torch.arange(length)[:, None], torch.arange(length)[None, :]
    allowed = None
    if m.causal:
        allowed = j <= i
        if m.window is not None:
            allowed = allowed & (i - j < m.window)
    bias = None if m.alibi is None else m.alibi.bias(pos, pos)
    scale = None if m.urpe is None else m.urpe.scale(pos, pos, allowed)
    y = attention_reference(q, k, v, allowed, bias, scale)
    return m.out(y.transpose(1, 2).flatten(2))


CASES = [
    ("alibi", True, None, True),
    ("alibi", False, None, True),
    ("urpe", True, None, True),
    ("urpe", False, None, True),
    ("rope", True, None, False),
    ("none", False, None, False),
]


@pytest.mark.parametrize("pos, causal, window, sdpa", CASES)
def test_blocked_forward_matches_full_reference(pos, causal, window, sdpa):
    m = _attn(pos, causal, window, sdpa)
    x = torch.randn(2, 23, D, generator=torch.Generator().manual_seed(1))  # 23 = 3 blocks of 7 + 2
    with torch.no_grad():
        torch.testing.assert_close(m(x), _reference(m, x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pos", ["alibi", "rope", "urpe", "none"])
@pytest.mark.parametrize("window", [None, 5])
@pytest.mark.parametrize("block", [4, 6])
def test_cached_chunks_match_full_reference(pos, window, block):
    m = _attn(pos, window=window, block=block)
    x = torch.randn(2, 23, D, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = _reference(m, x)
        a, s = m.forward_with_state(x[:, :10])
        b, s = m.forward_with_state(x[:, 10:21], s)  # 11 queries against a carried cache
        c, _ = m.step(x[:, 21], s)
        d, _ = m.step(x[:, 22], _)
    torch.testing.assert_close(torch.cat([a, b, c[:, None], d[:, None]], 1), want, atol=1e-5, rtol=1e-5)


def test_blocked_cache_after_reset_equals_fresh_sequence():
    m = _attn("alibi", block=3)
    x = torch.randn(2, 17, D, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        _, s = m.forward_with_state(x[:, :9])
        s = reset_state(s, torch.tensor([True, False]), m.init_state(2))
        y, _ = m.forward_with_state(x[:, 9:], s)
        fresh = _reference(m, x[:1, 9:])
    torch.testing.assert_close(y[:1], fresh, atol=1e-5, rtol=1e-5)


def test_blocked_backward_matches_reference():
    m = _attn("alibi", block=5).train()
    x = torch.randn(1, 12, D, generator=torch.Generator().manual_seed(4), requires_grad=True)
    m(x).square().sum().backward()
    g = x.grad.clone()
    x.grad = None
    _reference(m, x).square().sum().backward()
    torch.testing.assert_close(g, x.grad, atol=1e-5, rtol=1e-5)


LONG = textwrap.dedent(
    """
    import resource, torch
    from seqlab.registry import create
    torch.manual_seed(0)
    ms = [create("mixer", "attention", d_model=16, n_heads=1, pos="alibi").eval()]  # bias + cache mask
    x = torch.randn(1, 20000, 16)
    data = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmData")) * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (data + (1 << 30), resource.RLIM_INFINITY))
    with torch.no_grad():
        for m in ms:
            y, s = m.forward_with_state(x)
            assert y.shape == (1, 20000, 16) and s["k"].shape[2] == 20001 and bool(torch.isfinite(y).all())
    print("ok")
    """
)


@pytest.mark.slow  # ~4 s on a quiet core; O(L^2) work
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and RLIMIT_DATA (Linux)")
def test_forward_with_state_at_20000_tokens_never_allocates_l_by_l():
    # one L x L float32 tensor is 1.6 GB; the heap may grow by at most 1 GB above the inputs
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", LONG], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
