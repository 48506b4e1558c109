"""The mixer contract, checked for every registered mixer.

Tolerance: fp32, |parallel - chunked| and |parallel - step| <= 2e-4 + 2e-4 * |parallel|
(recurrences reassociate sums; attention's softmax is recomputed per chunk).
Gradients against the sequential reference are compared in float64 per family in its own tests.
"""

import importlib
import sys

import pytest
import torch

import seqlab.debug
from seqlab.mixers import reset_state
from seqlab.mixers.base import STATE_GROWTH, state_growth_of
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
    "empty length": torch.randn(2, 0, D),
    "float64 for a float32 mixer": torch.randn(2, 5, D, dtype=torch.float64),
    "float16 for a float32 mixer": torch.randn(2, 5, D).half(),
    "bfloat16 for a float32 mixer": torch.randn(2, 5, D).bfloat16(),
}


@pytest.mark.parametrize("name", MIXERS)
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_value_error(name, case):
    m = make(name)
    with pytest.raises(ValueError, match=r"expect"):
        m(BAD[case])


@pytest.mark.parametrize("name", MIXERS)
def test_wrong_dtype_error_names_the_expected_dtype(name):
    m = make(name)
    with pytest.raises(ValueError, match=r"expects input dtype torch.float32.*got torch.float64"):
        m(torch.randn(2, 5, D, dtype=torch.float64))
    if "step" in m.modes:
        with pytest.raises(ValueError, match=r"expects input dtype torch.float32"):
            m.step(torch.randn(2, D).bfloat16())


@pytest.mark.parametrize("name", MIXERS)
def test_nan_input_caught_only_under_debug_checks(name):
    """Value checks read the tensor (a device sync per layer), so they run only in debug mode."""
    m = make(name)
    x = torch.full((2, 5, D), float("nan"))
    with torch.no_grad():
        m(x)  # no value check (and no sync) by default
        with seqlab.debug.checks(), pytest.raises(ValueError, match=r"expects finite inputs"):
            m(x)


def chunked_mixers():
    return [n for n in MIXERS if "chunked" in make(n).modes]


def step_mixers():
    return [n for n in MIXERS if "step" in make(n).modes]


def _other_state(name, batch):
    """A state of another mixer with a different structure (or shape) than ``name``'s."""
    for other in ("lstm", "attention", "mamba", "s4d"):
        if other != name:
            s = make(other).init_state(batch)
            mine = make(name).init_state(batch)
            if type(s) is not type(mine) or not isinstance(s, torch.Tensor) or s.shape != mine.shape:
                return other, s
    raise AssertionError("no other state")


def _map_tensors(state, fn):
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {k: _map_tensors(v, fn) for k, v in state.items()}
    return type(state)(_map_tensors(s, fn) for s in state)


def only_first_float(fn):
    """A tensor map applying ``fn`` to the first floating (or complex) tensor met, others unchanged."""
    done = []

    def go(t):
        if not done and (t.is_floating_point() or t.is_complex()):
            done.append(True)
            return fn(t)
        return t

    return go


def bad_states(m, batch):
    """(label, state, regex naming the expectation) for a mixer's state at ``batch``."""
    good = m.init_state(batch)
    one = m.init_state(1)
    other_name, other = _other_state(m.registered_name, batch)
    widen = only_first_float(lambda t: torch.cat([t, t[..., :1]], dim=-1))
    as64 = only_first_float(lambda t: t.to(torch.complex128 if t.is_complex() else torch.float64))
    return [
        (f"{other_name}'s state", other, r"expects a state"),
        ("a batch-1 state for batch 4", one, rf"expects a state .*\({batch},.*should have shape"),
        ("another batch size", m.init_state(batch + 3), r"should have shape"),
        ("a wrong trailing dim", _map_tensors(good, widen), r"should have shape"),
        ("float64 state", _map_tensors(good, as64), r"should have dtype"),
        ("None in place of a tensor",
         _map_tensors(good, lambda t: None) if isinstance(good, (dict, tuple, list)) else [good],
         r"expects a state"),
    ]


@pytest.mark.parametrize("name", MIXERS)
def test_wrong_state_raises_value_error_naming_the_expected_one(name):
    m = make(name)
    if "chunked" not in m.modes and "step" not in m.modes:
        pytest.skip(f"{name} has no stateful mode (declared modes: {m.modes})")
    m.registered_name = name
    batch = 4
    x = inputs(3, batch=batch)
    for label, state, pattern in bad_states(m, batch):
        if "chunked" in m.modes:
            with pytest.raises(ValueError, match=pattern) as err:
                m.forward_with_state(x, state)
            assert "init_state(4)" in str(err.value), f"{name} / {label}: {err.value}"
        if "step" in m.modes:
            with pytest.raises(ValueError, match=pattern):
                m.step(x[:, 0], state)


@pytest.mark.parametrize("name", MIXERS)
def test_nan_state_caught_under_debug_checks(name):
    m = make(name)
    if "step" not in m.modes:
        pytest.skip(f"{name} has no step mode (declared modes: {m.modes})")
    x = inputs(1)
    nan = only_first_float(lambda t: torch.full_like(t, float("nan")))
    state = _map_tensors(m.init_state(2), nan)
    with torch.no_grad():
        m.step(x[:, 0], state)  # not checked by default: no value reads on the hot path
        with seqlab.debug.checks(), pytest.raises(ValueError, match=r"expects a finite state"):
            m.step(x[:, 0], state)
        if "chunked" in m.modes:
            with seqlab.debug.checks(), pytest.raises(ValueError, match=r"expects a finite state"):
                m.forward_with_state(x, state)


@pytest.mark.parametrize("name", MIXERS)
def test_reorder_state_then_continue_equals_continue_on_reordered_batch(name):
    m = make(name)
    if "chunked" not in m.modes:
        pytest.skip(f"{name} has no chunked mode (declared modes: {m.modes})")
    x = inputs(23, batch=3, seed=1)
    index = torch.tensor([2, 0, 0, 1])  # drop nothing, duplicate one, permute (beam search)
    with torch.no_grad():
        _, s = m.forward_with_state(x[:, :13], None)
        y_re, s_re = m.forward_with_state(x[index, 13:], m.reorder_state(s, index))
        _, s_ref = m.forward_with_state(x[index, :13], None)
        y_ref, _ = m.forward_with_state(x[index, 13:], s_ref)
        torch.testing.assert_close(y_re, y_ref, **TOL)
        if "step" in m.modes:
            y1, _ = m.step(x[index, 13], s_re)
    assert y_re.shape == (4, 10, D)
    if "step" in m.modes:
        assert y1.shape == (4, D)
    with pytest.raises(ValueError, match=r"1-D integer index"):
        m.reorder_state(s, [0, 1])


@pytest.mark.parametrize("name", MIXERS)
def test_state_growth_is_declared(name):
    m = make(name)
    assert m.state_growth in STATE_GROWTH, f"{name} must declare state_growth, got {m.state_growth!r}"
    assert state_growth_of(m) == m.state_growth
    assert state_growth_of(name) in STATE_GROWTH


def test_state_growth_values():
    want = {"ckconv": "linear", "attention": "linear", "rmt": "window", "samba": "window", "s4d": "constant",
            "mamba": "constant", "lstm": "constant", "gateloop": "constant", "retention": "constant"}
    assert {n: state_growth_of(n) for n in want} == want
    assert state_growth_of("attention", window=8) == "window"
    with pytest.raises(ValueError, match=r"expected one of"):
        state_growth_of(object())


@pytest.mark.parametrize("name", MIXERS)
def test_bfloat16_mixer_runs_on_cpu_and_matches_float32(name):
    """A mixer converted with ``.to(torch.bfloat16)`` runs on CPU; loose agreement with fp32 (8-bit
    mantissa: max error <= 10% of the output scale)."""
    m = make(name)
    x = inputs(24) * 0.5
    with torch.no_grad():
        y32 = m(x)
        m16 = m.to(torch.bfloat16)
        y16 = m16(x.bfloat16())
        assert y16.dtype == torch.bfloat16
        scale = y32.abs().max().item() + 1e-6
        err = (y16.float() - y32).abs().max().item()
        assert err <= 0.1 * scale, f"{name}: bf16 max error {err:.3g} vs fp32 scale {scale:.3g}"
        if "step" in m16.modes:
            state = m16.init_state(2, x.device, torch.bfloat16)
            y_t, _ = m16.step(x[:, 0].bfloat16(), state)
            assert y_t.dtype == torch.bfloat16
            assert (y_t.float() - y32[:, 0]).abs().max().item() <= 0.1 * scale
    m16.train()
    m16(x.bfloat16()).float().pow(2).mean().backward()
    grads = [p.grad for p in m16.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.bfloat16 for g in grads), f"{name}: no bf16 param grads"


@pytest.mark.parametrize("name", MIXERS)
def test_mixer_module_is_named_after_the_mixer(name):
    """``seqlab.mixers.<name>`` defines the class registered as ``name`` (shared bodies live in
    ``*_base``/``matrix_state`` modules that register nothing)."""
    entry = [e for e in entries("mixer") if e.name == name][0]
    module = importlib.import_module(f"seqlab.mixers.{name}")
    assert entry.obj.__module__ == module.__name__, f"{name} is defined in {entry.obj.__module__}"
    assert getattr(module, entry.obj.__name__) is entry.obj


def test_every_mixer_module_is_a_mixer_name_or_shared_body():
    import pkgutil

    import seqlab.mixers

    shared = {"base", "positional", "ssm_base", "recurrent_base", "matrix_state"}
    modules = {m.name for m in pkgutil.iter_modules(seqlab.mixers.__path__)}
    assert modules - shared == set(MIXERS), f"modules that are no mixer name: {sorted(modules - shared)}"



def test_contract_doc_example_runs():
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "mixers" / "contract.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(page), "exec"), {"__name__": "contract_doc"})


def _chunk_configs():
    import inspect

    out = []
    for name in MIXERS:
        obj = [e for e in entries("mixer") if e.name == name][0].obj
        if "chunk" in inspect.signature(obj).parameters:
            out.append(name)
    return out


@pytest.mark.parametrize("name", _chunk_configs())
@pytest.mark.parametrize("length", [11, 13])
def test_modes_agree_when_length_does_not_divide_the_internal_chunk(name, length):
    """chunk=4: lengths 11 and 13 leave a partial internal chunk; chunked pieces of 5/3 straddle them."""
    m = make(name, chunk=4)
    x = inputs(length)
    with torch.no_grad():
        y = m(x)
        yc, _ = run_chunked(m, x, [5, 3])
        torch.testing.assert_close(yc, y, **TOL)
        state, ys = None, []
        for t in range(length):
            yt, state = m.step(x[:, t], state)
            ys.append(yt)
    torch.testing.assert_close(torch.stack(ys, 1), y, **TOL)
