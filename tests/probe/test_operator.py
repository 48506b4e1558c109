"""The interaction operator of every registered mixer (arXiv 2512.15115)."""

from __future__ import annotations

import math

import pytest
import torch

from seqlab.mixers.mamba import selective_loop
from seqlab.probe import apply_operator, interaction, interaction_operator, jacobian_operator
from seqlab.registry import create, entries, names

D, L = 8, 7


def make(name, dtype=torch.float32, **kw):
    entry = [e for e in entries("mixer") if e.name == name][0]
    cfg = dict(entry.info.get("test_cfg", {}))
    cfg.update(kw)
    torch.manual_seed(0)
    return create("mixer", name, d_model=D, **cfg).eval().to(dtype)


def inputs(dtype=torch.float32, batch=2, length=L):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(1), dtype=dtype)


@pytest.mark.parametrize("name", names("mixer"))
def test_every_mixer_has_an_operator_that_reproduces_it(name):
    m = make(name, torch.float64)
    x = inputs(torch.float64)
    it = interaction(m, x)
    b, length = x.shape[:2]
    layout = {
        "head": (b, None, length, length),
        "channel": (b, None, length, length),
        "full": (b, length, length, D, D),
        "jacobian": (b, length, length, D, D),
    }[it.structure]
    assert it.W.dim() == len(layout)
    assert all(w is None or w == s for w, s in zip(layout, it.W.shape))
    with torch.no_grad():
        y = m(x)
    if it.exact:
        # W applied to the values, then the mixer's position-wise readout, is the mixer's output
        torch.testing.assert_close(it.output(), y, atol=1e-9, rtol=1e-7)
    else:
        # the Jacobian: its product with a direction equals the central finite difference of the mixer
        u = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=x.dtype)
        eps = 1e-5
        with torch.no_grad():
            fd = (m(x + eps * u) - m(x - eps * u)) / (2 * eps)
        torch.testing.assert_close(apply_operator(it.W, u, "jacobian"), fd, atol=1e-6, rtol=1e-5)
    if m.causal:  # no position sees the future: W_ij = 0 for j > i
        upper = torch.ones(length, length, dtype=torch.bool).triu(1)
        Wm = it.W if it.structure in ("head", "channel") else it.W.permute(0, 3, 4, 1, 2)
        assert Wm[..., upper].abs().max() < 1e-12
    assert torch.equal(interaction_operator(m, x), it.W)


def test_attention_operator_is_the_softmax_matrix():
    m = make("attention", pos="none", n_heads=2)
    x = inputs()
    W = interaction_operator(m, x)
    q, k, _ = m.qkv(x).unflatten(-1, (3, 2, D // 2)).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / math.sqrt(D // 2)
    scores = scores.masked_fill(torch.ones(L, L, dtype=torch.bool).triu(1), float("-inf"))
    torch.testing.assert_close(W, scores.softmax(-1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(W.sum(-1), torch.ones(2, 2, L))


def test_retention_operator_matches_the_decayed_scores():
    m = make("retention")
    x = inputs()
    q, k, _, log_g = m._qkvg(x)
    gamma = log_g[0, :, 0].exp()  # (H,)
    lag = torch.arange(L)[:, None] - torch.arange(L)
    decay = gamma[:, None, None] ** lag.clamp(min=0) * (lag >= 0)
    torch.testing.assert_close(
        interaction_operator(m, x), (q @ k.transpose(-1, -2)) * decay, atol=1e-6, rtol=1e-5
    )


def test_mamba_closed_form_matches_the_sequential_scan_on_impulses():
    m = make("mamba", d_state=4)
    x = inputs(batch=1)
    conv = m.init_state(1)[0]
    delta, B, C, _, _, _ = m._inputs(x, conv)
    A = -torch.exp(m.A_log)
    h0 = torch.zeros(1, m.d_inner, 4)
    W = interaction_operator(m, x)[0]
    for j in range(L):  # column j: the scan (gates fixed) driven by a unit value at time j
        impulse = torch.zeros(1, L, m.d_inner)
        impulse[:, j] = 1
        col, _ = selective_loop(h0, delta, A, B, C, impulse)
        col = col[0] + m.D * impulse[0]
        torch.testing.assert_close(W[:, :, j], col.T, atol=1e-6, rtol=1e-5)


def test_operator_depends_on_the_input_for_selective_but_not_for_lti_mixers():
    x1, x2 = inputs(), inputs() * 3 + 1
    for name, selective in (("mamba", True), ("gateloop", True), ("s4d", False), ("lru", False)):
        m = make(name)
        with torch.no_grad():
            change = (interaction_operator(m, x1) - interaction_operator(m, x2)).abs().max()
        assert (change > 1e-3) == selective, name


def test_lti_operator_equals_the_jacobian():
    for name in ("s4d", "s5"):
        m = make(name, torch.float64)
        x = inputs(torch.float64, batch=1)
        it = interaction(m, x)
        J = jacobian_operator(m, x)
        if it.structure == "channel":  # diagonal blocks of the Jacobian
            J = torch.diagonal(J, dim1=-2, dim2=-1).permute(0, 3, 1, 2)
        torch.testing.assert_close(it.W, J, atol=1e-10, rtol=1e-8)


def test_bad_inputs_raise_clear_errors():
    m = make("s4d")
    with pytest.raises(ValueError, match="Mixer"):
        interaction_operator(torch.nn.Linear(D, D), inputs())
    with pytest.raises(ValueError, match="batch, length, d_model"):
        interaction_operator(m, torch.randn(L, D))
    with pytest.raises(ValueError, match="d_model=8"):
        interaction_operator(m, torch.randn(1, L, D + 1))
    with pytest.raises(ValueError, match="structure"):
        apply_operator(torch.zeros(1, 2, 2), torch.zeros(1, 2), "rows")


@pytest.mark.parametrize(
    "name,cfg",
    [
        ("attention", {"pos": "alibi", "n_heads": 2}),
        ("attention", {"pos": "urpe", "n_heads": 2}),
        ("attention", {"pos": "rope", "window": 3}),
        ("attention", {"pos": "none", "causal": False}),
        ("attention", {"sdpa": False}),
        ("linear_attention", {"normalize": False, "n_heads": 2}),
        ("s4d", {"bidirectional": True}),
        ("ckconv", {"bidirectional": True}),
        ("gateloop", {"mode": "recurrent"}),
    ],
)
def test_operator_reproduces_mixer_variants(name, cfg):
    m = make(name, torch.float64, **cfg)
    x = inputs(torch.float64)
    it = interaction(m, x)
    assert it.exact
    with torch.no_grad():
        torch.testing.assert_close(it.output(), m(x), atol=1e-9, rtol=1e-7)
    if cfg.get("window"):  # nothing outside the window
        lag = torch.arange(L)[:, None] - torch.arange(L)
        assert it.W[..., lag >= cfg["window"]].abs().max() == 0
