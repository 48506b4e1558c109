"""The mixer contract, checked for every registered mixer.

Tolerance: fp32, |parallel - chunked| and |parallel - step| <= 2e-4 + 2e-4 * |parallel|
(recurrences reassociate sums; attention's softmax is recomputed per chunk).
Gradients against the sequential reference are compared in float64 per family in its own tests.
"""

import sys

import pytest
import torch

import seqlab.debug
from seqlab.mixers import reset_state
from seqlab.registry import create, entries

D = 16
MIXERS = [e.name for e in entries("mixer")]
TOL = {"atol": 2e-4, "rtol": 2e-4}


def make(name, **kw):
    entry = [e for e in entries("mixer") if e.name == name][0]
    cfg = dict(entry.info.get("test_cfg", {}))
    cfg.update(kw)
    torch.manual_seed(0)
    return create("mixer", name, d_model=D, **cfg).eval()


def inputs(length, batch=2, seed=0):
    return torch.randn(batch, length, D, generator=torch.Generator().manual_seed(seed))


def run_chunked(m, x, sizes):
    state, ys, t = None, [], 0
    i = 0
    while t < x.shape[1]:
        n = sizes[i % len(sizes)]
        y, state = m.forward_with_state(x[:, t : t + n], state)
        ys.append(y)
        t += n
        i += 1
    return torch.cat(ys, dim=1), state


def test_every_family_is_registered():
    want = {"attention", "linear_attention", "retention", "lssl", "s4", "s4d", "lru", "gateloop",
            "mamba", "mamba2", "ckconv", "rnn", "lstm", "gru", "rmt", "samba"}
    missing = want - set(MIXERS)
    assert not missing, f"mixers not registered: {sorted(missing)}"


@pytest.mark.parametrize("name", MIXERS)
def test_declared_metadata(name):
    e = [e for e in entries("mixer") if e.name == name][0]
    m = make(name)
    assert "parallel" in m.modes and set(m.modes) <= {"parallel", "chunked", "step"}
    assert m.state_size and m.state_size != "-", f"{name} must state its state size"
    assert e.implements and all(p.arxiv or p.venue for p in e.implements), f"{name} must name its paper"
    module_doc = sys.modules[type(m).__module__].__doc__ or ""
    assert "arXiv" in (type(m).__doc__ or "") + module_doc, f"{name} docstring must cite an arXiv id"


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("length", [1, 7, 64, 257])
def test_modes_agree(name, length):
    m = make(name)
    x = inputs(length)
    with torch.no_grad():
        y = m(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
        if "chunked" in m.modes:
            yc, _ = run_chunked(m, x, [5, 3, 11])
            torch.testing.assert_close(yc, y, **TOL)
            y1, _ = m.forward_with_state(x, None)
            torch.testing.assert_close(y1, y, **TOL)
        if "step" in m.modes and length <= 64:
            state = m.init_state(x.shape[0], x.device, x.dtype)
            ys = []
            for t in range(length):
                yt, state = m.step(x[:, t], state)
                ys.append(yt)
            torch.testing.assert_close(torch.stack(ys, 1), y, **TOL)


@pytest.mark.parametrize("name", MIXERS)
def test_split_and_carry_equals_one_pass(name):
    m = make(name)
    if "chunked" not in m.modes:
        pytest.skip(f"{name} has no chunked mode (declared modes: {m.modes})")
    x = inputs(40)
    with torch.no_grad():
        ya, s = m.forward_with_state(x[:, :17], None)
        yb, _ = m.forward_with_state(x[:, 17:], s)
        yfull, _ = m.forward_with_state(x, None)
    torch.testing.assert_close(torch.cat([ya, yb], 1), yfull, **TOL)


@pytest.mark.parametrize("name", MIXERS)
def test_causal(name):
    m = make(name)
    if not m.causal:
        pytest.skip(f"{name} is bidirectional by configuration")
    x = inputs(33)
    x2 = x.clone()
    x2[:, 20:] += torch.randn_like(x2[:, 20:])
    with torch.no_grad():
        y, y2 = m(x), m(x2)
    torch.testing.assert_close(y[:, :20], y2[:, :20], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(y[:, 20:], y2[:, 20:]), "future perturbation must change later outputs"


@pytest.mark.parametrize("name", MIXERS)
def test_gradients_finite(name):
    m = make(name).train()
    x = inputs(19).requires_grad_()
    m(x).pow(2).mean().backward()
    assert torch.isfinite(x.grad).all()
    for p_name, p in m.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), f"{name}.{p_name} has non-finite grad"


@pytest.mark.parametrize("name", MIXERS)
def test_reset_state_restarts_chosen_sequences(name):
    m = make(name)
    if "step" not in m.modes:
        pytest.skip(f"{name} has no step mode")
    x = inputs(6)
    with torch.no_grad():
        state = m.init_state(2, x.device, x.dtype)
        for t in range(3):
            _, state = m.step(x[:, t], state)
        fresh = m.init_state(2, x.device, x.dtype)
        state = reset_state(state, torch.tensor([True, False]), fresh)
        y_reset, _ = m.step(x[:, 3], state)
        y_new, _ = m.step(x[:, 3], m.init_state(2, x.device, x.dtype))
    torch.testing.assert_close(y_reset[0], y_new[0], **TOL)
    assert not torch.allclose(y_reset[1], y_new[1])


BAD = {
    "wrong rank": torch.randn(2, D),
    "wrong d_model": torch.randn(2, 5, D + 1),
    "integer dtype": torch.ones(2, 5, D, dtype=torch.long),
    "NaN": torch.full((2, 5, D), float("nan")),
    "empty length": torch.randn(2, 0, D),
}


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_value_error(name, case):
    m = make(name)
    with seqlab.debug.checks(case == "NaN"), pytest.raises(ValueError, match=r"expect"):
        m(BAD[case])  # value checks (NaN) run per mixer only in debug mode
