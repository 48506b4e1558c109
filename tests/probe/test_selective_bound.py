"""Length term of the selective-SSM bound (arXiv 2502.01473) against direct loops; the unstable Mamba."""

import math

import pytest
import torch

from seqlab.mixers.mamba import Mamba, selective_loop
from seqlab.models import SequenceModel
from seqlab.probe.selective_bound import (
    UnstableMamba,
    geometric_envelope,
    selective_ssm_bound_terms,
    state_matrix,
    transition_terms,
)


def _direct_norms(delta, A):
    """||prod_{s<r<=t} diag(exp(delta_r A_d))||_2 by multiplying the matrices out."""
    Bn, L, D = delta.shape
    out = torch.zeros(Bn, D, L, L, dtype=torch.float64)
    for b in range(Bn):
        for d in range(D):
            for t in range(L):
                for s in range(t + 1):
                    P = torch.eye(A.shape[1], dtype=torch.float64)
                    for r in range(s + 1, t + 1):
                        P = torch.diag(torch.exp(delta[b, r, d].double() * A[d].double())) @ P
                    out[b, d, t, s] = torch.linalg.matrix_norm(P, ord=2)
    return out


@pytest.mark.parametrize("sign", [-1.0, 1.0])
def test_transition_norms_match_the_matrix_products(sign):
    g = torch.Generator().manual_seed(0)
    delta = torch.rand(2, 6, 3, generator=g) * 0.5 + 0.01
    A = sign * (torch.rand(3, 4, generator=g) + 0.1)
    A[1, 2] = -0.05 if sign > 0 else A[1, 2]  # mixed signs in a channel: the norm follows the max
    r = transition_terms(delta, A)
    want = _direct_norms(delta, A)
    assert torch.allclose(r["norms"], want, rtol=1e-10)
    assert torch.allclose(r["mass"], want.sum(-1))
    assert r["abscissa"] == pytest.approx(float(A.max()))
    assert r["max_mass"] == pytest.approx(float(want.sum(-1).max()))
    assert r["mass_at_end"] == pytest.approx(float(want[..., -1, :].sum(-1).max()))
    assert r["max_mass"] <= r["envelope"] * (1 + 1e-9)


def test_constant_step_gives_the_geometric_sum_and_its_regimes():
    L, dt = 50, 0.2
    for a in (-1.0, 0.0, 0.5):
        r = transition_terms(
            torch.full((1, L, 1), dt, dtype=torch.float64), torch.tensor([[a]], dtype=torch.float64)
        )
        want = sum(math.exp(a * dt * k) for k in range(L))
        assert r["mass_at_end"] == pytest.approx(want, rel=1e-9)
        assert r["envelope"] == pytest.approx(want, rel=1e-9)
    # stable: bounded by 1 / (1 - exp(s_A dt)) at every length; zero: linear; unstable: exponential
    lim = 1 / (1 - math.exp(-dt))
    assert geometric_envelope(-1.0, dt, dt, 10_000) == pytest.approx(lim)
    assert geometric_envelope(0.0, dt, dt, 77) == 77
    assert (
        geometric_envelope(0.5, dt, dt, 40) / geometric_envelope(0.5, dt, dt, 20)
        > math.exp(0.5 * dt * 20) * 0.9
    )
    assert geometric_envelope(5.0, 1.0, 1.0, 10_000) == math.inf
    # delta_* is the smallest step when stable, the largest when unstable
    assert geometric_envelope(-1.0, 0.1, 0.9, 5) == pytest.approx(sum(math.exp(-0.1 * k) for k in range(5)))
    assert geometric_envelope(1.0, 0.1, 0.9, 5) == pytest.approx(sum(math.exp(0.9 * k) for k in range(5)))


def test_bad_inputs_name_what_was_expected():
    with pytest.raises(ValueError, match=r"delta \(B, L, D\) and A \(D, N\)"):
        transition_terms(torch.rand(1, 4, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match="positive delta"):
        transition_terms(torch.zeros(1, 4, 2), torch.rand(2, 3))
    with pytest.raises(ValueError, match="finite state matrix"):
        transition_terms(torch.rand(1, 4, 2) + 0.1, torch.tensor([[math.nan], [0.0]]))
    with pytest.raises(ValueError, match="length >= 1"):
        geometric_envelope(-1.0, 0.1, 0.1, 0)
    with pytest.raises(ValueError, match="delta_min <= delta_max"):
        geometric_envelope(-1.0, 0.5, 0.1, 3)
    with pytest.raises(ValueError, match="no"):
        selective_ssm_bound_terms(
            SequenceModel("gru", d_model=8, n_layers=1, vocab_size=2), torch.zeros(1, 3).long()
        )
    with pytest.raises(ValueError, match="a_min > 0"):
        UnstableMamba(8, a_min=0.0)
    with pytest.raises(TypeError, match="Mamba mixer"):
        state_matrix(torch.nn.Linear(2, 2))


def test_bound_terms_of_a_model_read_each_layers_delta_and_A():
    torch.manual_seed(0)
    model = SequenceModel("mamba", d_model=8, n_layers=2, vocab_size=5, mixer_cfg={"d_state": 4})
    x = torch.randint(0, 5, (3, 7))
    r = selective_ssm_bound_terms(model, x)
    assert len(r["layers"]) == 2
    # layer 0 by hand: its mixer input is norm1 of the embedded ids (mamba adds no positions)
    block = model.blocks[0]
    with torch.no_grad():
        u = block.norm1(model.embed_inputs(x)[0])
        m = block.mixer
        delta = m._inputs(u, m.init_state(3)[0])[0]
    want = transition_terms(delta, -torch.exp(m.A_log))
    assert r["layers"][0]["mass_at_end"] == pytest.approx(want["mass_at_end"])
    assert r["layers"][0]["max_mass"] == pytest.approx(want["max_mass"])
    assert r["abscissa"] == pytest.approx(-1.0)  # S4D-real init: A_n = -(n + 1)
    assert r["max_norm"] == pytest.approx(1.0)  # stable: the empty product (identity) is the largest
    assert r["mass_at_end"] <= 7 and r["mass_at_end"] <= r["envelope"] * (1 + 1e-9)


def test_unstable_mamba_matches_the_loop_and_has_positive_abscissa():
    torch.manual_seed(1)
    m = UnstableMamba(8, d_state=3, a_min=0.2, step_cap=10.0)
    assert float(state_matrix(m).min()) == pytest.approx(0.2)
    assert float(state_matrix(m).max()) == pytest.approx(0.6)
    u = torch.randn(2, 9, 8)
    y, (_, h) = m._mix(u, m.init_state(2), "scan")
    # reference: the plain selective loop with the positive A (no cap reached at this step size)
    with torch.no_grad():
        delta, B, C, x, z, _ = m._inputs(u, m.init_state(2)[0])
        assert float((delta.unsqueeze(-1) * state_matrix(m)).max()) < 10.0
        y_ref, h_ref = selective_loop(m.init_state(2)[1], delta, state_matrix(m), B, C, x)
        y_ref = m.out_proj((y_ref + m.D * x) * torch.nn.functional.silu(z))
    assert torch.allclose(y, y_ref, atol=1e-5) and torch.allclose(h, h_ref, atol=1e-5)
    # the clamp holds however A_log moves, and the model's bound terms see the unstable regime
    with torch.no_grad():
        m.A_log.fill_(-20.0)
    assert float(state_matrix(m).min()) == pytest.approx(0.2)
    model = SequenceModel("mamba", d_model=8, n_layers=1, vocab_size=2)
    model.blocks[0].mixer = UnstableMamba(8, d_state=4, a_min=0.5)
    r = selective_ssm_bound_terms(model, torch.randint(0, 2, (2, 30)))
    assert r["abscissa"] == pytest.approx(2.0) and r["max_norm"] > 1.0
    assert isinstance(Mamba(8), Mamba) and not hasattr(Mamba(8), "state_matrix")
