import pytest
import torch
import torch.nn.functional as F

from seqlab.registry import create


def _x(length=21, batch=2, d=16, seed=0):
    return torch.randn(batch, length, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _make(**kw):
    torch.manual_seed(0)
    return create("mixer", "mamba2", d_model=16, d_state=8, head_dim=8, chunk=8, **kw).double()


def _reference(m, u):
    """The SSD recurrence written out one step at a time from the module docstring."""
    z, xbc, dt = m.in_proj(u).split([m.d_inner, m.conv_dim, m.n_heads], dim=-1)
    xbc = F.pad(xbc.transpose(1, 2), (m.d_conv - 1, 0))
    xbc = F.silu(F.conv1d(xbc, m.conv.weight, m.conv.bias, groups=m.conv_dim)).transpose(1, 2)
    x, b, c = xbc.split([m.d_inner, m.d_state, m.d_state], dim=-1)
    x = x.unflatten(-1, (m.n_heads, m.head_dim))  # (B, L, H, P)
    dt = F.softplus(dt + m.dt_bias)  # (B, L, H)
    a = -torch.exp(m.A_log)
    h = torch.zeros(u.shape[0], m.n_heads, m.d_state, m.head_dim, dtype=u.dtype)
    ys = []
    for t in range(u.shape[1]):
        decay = torch.exp(dt[:, t] * a)[..., None, None]
        h = decay * h + dt[:, t, :, None, None] * b[:, t, None, :, None] * x[:, t, :, None, :]
        ys.append(torch.einsum("bhnp,bn->bhp", h, c[:, t]) + m.D[:, None] * x[:, t])
    y = torch.stack(ys, 1).flatten(2)
    return m.out_proj(m.norm(y * F.silu(z)))


def test_matches_sequential_ssd_reference():
    m, x = _make(), _x()
    torch.testing.assert_close(m(x), _reference(m, x), rtol=1e-10, atol=1e-10)


def test_gradients_match_sequential_reference():
    m, x = _make(), _x(length=13)

    def grads(fn):
        m.zero_grad()
        xi = x.clone().requires_grad_()
        (fn(xi) * torch.linspace(-1, 1, x.numel(), dtype=x.dtype).view_as(x)).sum().backward()
        return [xi.grad] + [p.grad.clone() for p in m.parameters()]

    for a, b in zip(grads(m), grads(lambda xi: _reference(m, xi))):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_conv_state_is_carried_across_one_token_pieces():
    m, x = _make(), _x(length=9)
    state, ys = None, []
    for t in range(x.shape[1]):
        y, state = m.forward_with_state(x[:, t : t + 1], state)
        ys.append(y)
    torch.testing.assert_close(torch.cat(ys, 1), m(x), rtol=1e-10, atol=1e-10)
    assert state["conv"].shape == (2, 3, m.conv_dim)


def test_decay_is_in_unit_interval():
    m = _make()
    dt = F.softplus(m.dt_bias)
    assert ((dt > 0) & (dt < 1)).all() and (-torch.exp(m.A_log) < 0).all()


def test_bad_config_raises():
    with pytest.raises(ValueError, match="head_dim"):
        create("mixer", "mamba2", d_model=16, head_dim=5)
