import pytest
import torch

import seqlab.debug
from seqlab.ops.gla import gla_chunked, gla_parallel, gla_recurrent, gla_step

TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _inputs(length, per_dim, init, seed=0, dtype=torch.float64, strength=1.0, shape=(2, 3, 5, 4)):
    g = torch.Generator().manual_seed(seed)
    b, h, dk, dv = shape
    q = torch.randn(b, h, length, dk, generator=g, dtype=dtype)
    k = torch.randn(b, h, length, dk, generator=g, dtype=dtype)
    v = torch.randn(b, h, length, dv, generator=g, dtype=dtype)
    gshape = (b, h, length, dk) if per_dim else (b, h, length)
    log_g = -strength * torch.rand(gshape, generator=g, dtype=dtype)
    s0 = torch.randn(b, h, dk, dv, generator=g, dtype=dtype) if init else None
    return q, k, v, log_g, s0


@pytest.mark.parametrize("per_dim", [False, True])
@pytest.mark.parametrize("length", [1, 7, 64, 257])
@pytest.mark.parametrize("chunk", [16, 64])
@pytest.mark.parametrize("init", [False, True])
def test_chunked_matches_recurrent(per_dim, length, chunk, init):
    q, k, v, log_g, s0 = _inputs(length, per_dim, init)
    o_ref, s_ref = gla_recurrent(q, k, v, log_g, s0)
    o, s = gla_chunked(q, k, v, log_g, s0, chunk=chunk)
    torch.testing.assert_close(o, o_ref, **TIGHT)
    torch.testing.assert_close(s, s_ref, **TIGHT)


@pytest.mark.parametrize("per_dim", [False, True])
@pytest.mark.parametrize("init", [False, True])
def test_parallel_matches_recurrent(per_dim, init):
    q, k, v, log_g, s0 = _inputs(37, per_dim, init)
    o_ref, s_ref = gla_recurrent(q, k, v, log_g, s0)
    o, s = gla_parallel(q, k, v, log_g, s0)
    torch.testing.assert_close(o, o_ref, **TIGHT)
    torch.testing.assert_close(s, s_ref, **TIGHT)


def test_recurrence_is_what_the_docstring_says():
    q, k, v, log_g, s0 = _inputs(3, per_dim=True, init=True, shape=(1, 1, 2, 3))
    s = s0[0, 0]
    for t in range(3):
        s = log_g[0, 0, t].exp()[:, None] * s + torch.outer(k[0, 0, t], v[0, 0, t])
    o, s_fin = gla_recurrent(q, k, v, log_g, s0)
    torch.testing.assert_close(s_fin[0, 0], s, **TIGHT)
    torch.testing.assert_close(o[0, 0, -1], s.T @ q[0, 0, -1], **TIGHT)


@pytest.mark.parametrize("per_dim", [False, True])
@pytest.mark.parametrize("init", [False, True])
def test_gradients_match_recurrent(per_dim, init):
    tensors = _inputs(45, per_dim, init)
    tensors = [t.requires_grad_() if t is not None else None for t in tensors]
    grads = []
    for fn in (gla_recurrent, lambda *a: gla_chunked(*a, chunk=16)):
        o, s = fn(*tensors)
        w = torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)
        ((o * w).sum() + s.pow(2).sum()).backward()
        grads.append([t.grad.clone() for t in tensors if t is not None])
        for t in tensors:
            if t is not None:
                t.grad = None
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, **TIGHT)


def test_split_sequence_with_carried_state_equals_one_pass():
    q, k, v, log_g, _ = _inputs(50, per_dim=False, init=False)
    o_full, s_full = gla_chunked(q, k, v, log_g, chunk=16)
    o_a, s_a = gla_chunked(q[:, :, :19], k[:, :, :19], v[:, :, :19], log_g[:, :, :19], chunk=16)
    o_b, s_b = gla_chunked(q[:, :, 19:], k[:, :, 19:], v[:, :, 19:], log_g[:, :, 19:], s_a, chunk=16)
    torch.testing.assert_close(torch.cat([o_a, o_b], 2), o_full, **TIGHT)
    torch.testing.assert_close(s_b, s_full, **TIGHT)


def test_step_matches_recurrent_first_step():
    q, k, v, log_g, s0 = _inputs(1, per_dim=False, init=True)
    o, s = gla_step(q[:, :, 0], k[:, :, 0], v[:, :, 0], log_g[:, :, 0], s0)
    o_ref, s_ref = gla_recurrent(q, k, v, log_g, s0)
    torch.testing.assert_close(o, o_ref[:, :, 0], **TIGHT)
    torch.testing.assert_close(s, s_ref, **TIGHT)


@pytest.mark.parametrize("per_dim", [False, True])
def test_long_strongly_decaying_sequence_is_finite_forward_and_backward(per_dim):
    # cumulative log-gates reach -20 * 64 per chunk: exp of any positive difference would overflow
    length = 65536
    q, k, v, log_g, _ = _inputs(length, per_dim, False, dtype=torch.float32, strength=20.0,
                                shape=(1, 1, 4, 4))
    log_g = log_g.requires_grad_()
    q.requires_grad_()
    o, s = gla_chunked(q, k, v, log_g)
    assert torch.isfinite(o).all() and torch.isfinite(s).all()
    (o.sum() + s.sum()).backward()
    assert torch.isfinite(log_g.grad).all() and torch.isfinite(q.grad).all()
    assert log_g.grad.abs().sum() > 0


def test_bad_inputs_raise_value_error():
    q, k, v, log_g, s0 = _inputs(5, per_dim=False, init=True)
    with seqlab.debug.checks(), pytest.raises(ValueError, match="log_g <= 0"):
        gla_chunked(q, k, v, -log_g)
    with pytest.raises(ValueError, match="log_g of shape"):
        gla_chunked(q, k, v, log_g[..., :2])
    with pytest.raises(ValueError, match="v of shape"):
        gla_chunked(q, k, v[:, :2], log_g)
    with pytest.raises(ValueError, match="state of shape"):
        gla_chunked(q, k, v, log_g, s0[..., :1])
    with pytest.raises(ValueError, match="non-empty"):
        gla_chunked(q[:, :, :0], k[:, :, :0], v[:, :, :0], log_g[:, :, :0])
    with pytest.raises(ValueError, match="floating-point"):
        gla_chunked(q.long(), k, v, log_g)
    with pytest.raises(ValueError, match="chunk"):
        gla_chunked(q, k, v, log_g, chunk=0)
    with seqlab.debug.checks(), pytest.raises(ValueError, match="log_g <= 0"):
        gla_chunked(q, k, v, torch.full_like(log_g, float("nan")))
    gla_chunked(q, k, v, -log_g)  # value checks (a device sync) run only in debug mode


@pytest.mark.parametrize("per_dim", [False, True])
@pytest.mark.parametrize("init", [False, True])
@pytest.mark.parametrize("use", ["output", "state"])
def test_chunked_hand_written_backward_passes_gradcheck(per_dim, init, use):
    # the chunked path has its own backward: check it against finite differences, with only the
    # output or only the final state reaching the loss (the other gradient arrives as zeros)
    tensors = [t.requires_grad_() if t is not None else None
               for t in _inputs(11, per_dim, init, shape=(1, 2, 3, 2))]

    def fn(*args):
        o, s = gla_chunked(*args, chunk=4)
        return o if use == "output" else s

    assert torch.autograd.gradcheck(fn, tuple(tensors))


@pytest.mark.parametrize("per_dim", [False, True])
def test_long_inputs_run_in_spans_with_the_same_values_and_gradients(per_dim, monkeypatch):
    from seqlab.ops import gla

    monkeypatch.setattr(gla, "SPAN_STEPS", 20)  # spans of 16 steps (whole chunks of 8)
    tensors = [t.requires_grad_() for t in _inputs(45, per_dim, init=True)]
    grads = []
    for fn in (gla_recurrent, lambda *a: gla_chunked(*a, chunk=8)):
        o, s = fn(*tensors)
        w = torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)
        grads.append(torch.autograd.grad((o * w).sum() + s.pow(2).sum(), tensors) + (o, s))
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, **TIGHT)
