"""LRU and S5: scans against the sequential loop, initialisations, float64 gradients, universality."""

import math

import pytest
import torch
from torch import nn

from seqlab.mixers.lru import LRU
from seqlab.mixers.s5 import S5
from seqlab.ops.hippo import discretize_diag, legs_dplr
from seqlab.registry import create

CLASSES = {"lru": LRU, "s5": S5}


def build(name, d_model=3, **kw):
    return CLASSES[name](d_model, seed=0, **kw).double()


def _x(length, d=3, seed=1):
    return torch.randn(2, length, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("length", [1, 7, 257])
@pytest.mark.parametrize("chunk", [5, 64])
def test_scan_paths_match_sequential_reference(name, length, chunk):
    m = build(name, d_state=6, chunk=chunk)
    x = _x(length)
    h0 = torch.randn(2, 6, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref, ref_state = m.reference(x)
        torch.testing.assert_close(m(x), ref, rtol=1e-10, atol=1e-10)
        y, s = m.forward_with_state(x, h0)
        ref_h0, ref_s = m.reference(x, h0)
        torch.testing.assert_close(y, ref_h0, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(s, ref_s, rtol=1e-10, atol=1e-10)
        assert not torch.allclose(y, ref), "the carried state must matter"


@pytest.mark.parametrize("name", list(CLASSES))
def test_reference_is_the_stated_recurrence(name):
    m = build(name, d_state=4)
    x = _x(5)
    lam, b, c = m.coefficients()
    h = torch.zeros(2, 4, dtype=torch.complex128)
    with torch.no_grad():
        ref, _ = m.reference(x)
        for t in range(5):
            h = lam * h + x[:, t].to(h.dtype) @ b.T
            y = m.out_scale * (h @ c.T).real + m.D * x[:, t]
            torch.testing.assert_close(ref[:, t], y)


@pytest.mark.parametrize("name", list(CLASSES))
def test_gradients_match_sequential_reference_float64(name):
    m = build(name, d_model=2, d_state=3, chunk=4)
    x = _x(11, d=2)
    grads = []
    for run in (lambda inp: m(inp), lambda inp: m.reference(inp)[0]):
        m.zero_grad()
        inp = x.clone().requires_grad_()
        run(inp).pow(2).sum().backward()
        grads.append([inp.grad] + [p.grad.clone() for p in m.parameters()])
    for pname, g1, g2 in zip(["x"] + [n for n, _ in m.named_parameters()], *grads):
        torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-11, msg=f"grad of {pname}")


def test_lru_ring_init_and_gamma():
    m = LRU(4, d_state=500, r_min=0.5, r_max=0.9, max_phase=math.pi / 4, seed=3)
    lam, b, _ = m.coefficients()
    r = lam.abs()
    assert r.min() >= 0.5 - 1e-6 and r.max() <= 0.9 + 1e-6
    assert r.min() < 0.55 and r.max() > 0.85  # fills the ring
    phase = lam.angle()
    assert phase.min() >= 0 and phase.max() <= math.pi / 4 + 1e-6 and phase.max() > 0.7
    torch.testing.assert_close(torch.exp(m.gamma_log), torch.sqrt(1 - r**2))
    torch.testing.assert_close(b.abs(), torch.exp(m.gamma_log)[:, None] * torch.view_as_complex(m.B).abs())
    with pytest.raises(ValueError, match="r_min"):
        LRU(4, r_min=0.9, r_max=0.5)


def test_s5_init_is_hippo_n_with_zoh():
    m = S5(4, d_state=8, seed=0).double()
    lam_hippo, _, _ = legs_dplr(16)
    eig = torch.complex(-torch.exp(m.log_neg_re), m.im)
    torch.testing.assert_close(eig, lam_hippo, rtol=1e-6, atol=1e-5)
    lam, b, _ = m.coefficients()
    dt = torch.exp(m.log_dt)
    want_a, want_b = discretize_diag(eig[:, None], torch.view_as_complex(m.B), dt[:, None], "zoh")
    torch.testing.assert_close(lam, want_a[:, 0])
    torch.testing.assert_close(b, want_b)
    assert (lam.abs() < 1).all()


@pytest.mark.parametrize("name", list(CLASSES))
def test_same_seed_same_parameters(name):
    a, b, c = (create("mixer", name, d_model=4, seed=s) for s in (5, 5, 6))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(b.parameters(), c.parameters()))


@pytest.mark.parametrize("name", list(CLASSES))
def test_long_sequence_forward_backward_is_finite(name):
    torch.manual_seed(0)
    m = create("mixer", name, d_model=8)
    x = torch.randn(1, 65536, 8, requires_grad=True)
    y = m(x)
    y.pow(2).mean().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    for p_name, p in m.named_parameters():
        assert torch.isfinite(p.grad).all(), p_name


# -- "On the Universality of Linear Recurrences Followed by Nonlinear Projections" ---------------
# Claim at toy scale: a linear recurrence followed by a position-wise MLP fits a nonlinear
# sequence-to-sequence map that the linear recurrence alone cannot. Target y_t = u_{t-1} u_{t-2}
# with u_t ~ N(0, 1) i.i.d.: every linear map of past inputs is uncorrelated with y, so the best
# linear MSE is E[y^2] = 1. Pass criterion (fixed in advance): linear MSE > 0.8 and
# LRU + MLP MSE < 0.25 x linear MSE, on held-out sequences.


def _product_task(gen, batch, length=24):
    u = torch.randn(batch, length, 1, generator=gen)
    y = torch.zeros_like(u)
    y[:, 2:] = u[:, 1:-1] * u[:, :-2]
    return u, y


class _RecurrenceNet(nn.Module):
    def __init__(self, mlp: bool, d: int = 16):
        super().__init__()
        self.inp, self.out = nn.Linear(1, d), nn.Linear(d, 1)
        self.rec = LRU(d, d_state=16, seed=0)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d)) if mlp else None

    def forward(self, u):
        h = self.rec(self.inp(u))
        return self.out(h if self.mlp is None else h + self.mlp(h))


def _fit_mse(mlp: bool, steps: int = 150) -> float:
    torch.manual_seed(0)
    net = _RecurrenceNet(mlp)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        u, y = _product_task(gen, 32)
        loss = (net(u)[:, 2:] - y[:, 2:]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    u, y = _product_task(torch.Generator().manual_seed(99), 256)
    with torch.no_grad():
        return float((net(u)[:, 2:] - y[:, 2:]).pow(2).mean())


def test_universality_linear_recurrence_plus_mlp_fits_nonlinear_map():
    linear, nonlinear = _fit_mse(False), _fit_mse(True)
    assert linear > 0.8, f"linear recurrence alone should not fit a product map (MSE {linear:.3f})"
    assert nonlinear < 0.25 * linear, f"LRU + MLP MSE {nonlinear:.3f} vs linear {linear:.3f}"
