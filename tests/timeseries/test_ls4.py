"""LS4: the convolutional view against the recurrence, the ELBO's pieces against closed forms,
causality, generation and the bad-input errors."""

from __future__ import annotations

import pytest
import torch

from seqlab.registry import create
from seqlab.timeseries import GRUVAE, LS4, gaussian_kl
from seqlab.timeseries.ls4 import GRUStack, SSMStack


@pytest.mark.parametrize("stack", [SSMStack, GRUStack])
@pytest.mark.parametrize("length", [1, 37])
def test_parallel_view_equals_step_loop(stack, length):
    torch.manual_seed(0)
    s = stack(3, 16, 2, 16, 0).double()
    u = torch.randn(2, length, 3, dtype=torch.double)
    state, outs = s.init_state(2), []
    for t in range(length):
        h, state = s.step(u[:, t], state)
        outs.append(h)
    torch.testing.assert_close(s(u), torch.stack(outs, 1), rtol=1e-9, atol=1e-9)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mq, lq, mp, lp = (torch.randn(5, 3, generator=g, dtype=torch.double) for _ in range(4))
    ref = torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, lq.exp()), torch.distributions.Normal(mp, lp.exp())
    )
    torch.testing.assert_close(gaussian_kl(mq, lq, mp, lp), ref)


def test_posterior_and_emission_are_causal():
    model = LS4(channels=2, latent=3, hidden=16, seed=0).double()
    x = torch.randn(2, 20, 2, dtype=torch.double)
    mask = torch.ones_like(x)
    x2 = x.clone()
    x2[:, 12] += 5.0
    mu, _ = model.encode(x, mask)
    mu2, _ = model.encode(x2, mask)
    torch.testing.assert_close(mu[:, :12], mu2[:, :12])  # q(z_t) reads x_{<=t} only
    assert not torch.allclose(mu[:, 12], mu2[:, 12])
    z = torch.randn(2, 20, 3, dtype=torch.double)
    e, e2 = model.emission_mean(z, x, mask), model.emission_mean(z, x2, mask)
    torch.testing.assert_close(e[:, :13], e2[:, :13])  # x_t's mean reads x_{<t} only
    assert not torch.allclose(e[:, 13], e2[:, 13])


def test_loss_is_the_negative_elbo_per_value():
    torch.manual_seed(0)
    model = LS4(channels=1, latent=2, hidden=8, seed=0).double()
    x = torch.randn(3, 10, 1, dtype=torch.double)
    torch.manual_seed(5)
    got = model.loss(x)
    torch.manual_seed(5)  # same reparametrisation noise: rebuild the ELBO by hand
    mask = torch.ones_like(x)
    mu_q, ls_q = model.encode(x, mask)
    z = mu_q + ls_q.exp() * torch.randn_like(mu_q)
    mu_p, ls_p = model.prior_params(z)
    mean = model.emission_mean(z, x, mask)
    logp = torch.distributions.Normal(mean, model.log_sigma.exp()).log_prob(x).sum()
    kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu_q, ls_q.exp()), torch.distributions.Normal(mu_p, ls_p.exp())
    ).sum()
    torch.testing.assert_close(got, (kl - logp) / x.numel())


def test_masked_values_do_not_enter_the_loss():
    model = LS4(channels=1, latent=2, hidden=8, seed=0)
    x = torch.randn(2, 12, 1)
    mask = torch.ones_like(x)
    mask[:, 5] = 0
    x_nan = x.clone()
    x_nan[:, 5] = float("nan")
    torch.manual_seed(3)
    a = model.loss(x, mask)
    torch.manual_seed(3)
    b = model.loss(x_nan, mask)
    assert torch.isfinite(b) and float(a.detach()) == pytest.approx(float(b.detach()))


@pytest.mark.parametrize("cls", [LS4, GRUVAE])
def test_training_lowers_the_loss_and_generation_is_seeded(cls):
    from seqlab.timeseries import oscillator_series

    torch.manual_seed(0)
    data = oscillator_series(64, 24, seed=0)
    data = (data - data.mean()) / data.std()
    model = cls(channels=1, latent=2, hidden=16, layers=1, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = float(model.loss(data))
    for _ in range(40):
        loss = model.loss(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(model.loss(data)) < first - 0.2
    a = model.sample(4, 30, generator=torch.Generator().manual_seed(1))
    b = model.sample(4, 30, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 30, 1) and torch.equal(a, b) and torch.isfinite(a).all()
    assert model.extrapolate(data[:3, :16], 8).shape == (3, 8, 1)


def test_registered_with_the_paper():
    assert isinstance(create("timeseries", "ls4", channels=1), LS4)
    assert isinstance(create("timeseries", "gru-vae", channels=1), GRUVAE)


def test_bad_input_is_a_clear_error():
    model = LS4(channels=2, latent=2, hidden=8)
    with pytest.raises(ValueError, match="2 channel"):
        model.loss(torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="batch, length"):
        model.loss(torch.randn(5, 2))
    bad = torch.randn(2, 5, 2)
    bad[0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.loss(bad)
    with pytest.raises(ValueError, match="mask shape"):
        model.loss(torch.randn(2, 5, 2), torch.ones(2, 5, 1))
    with pytest.raises(ValueError, match="horizon"):
        model.extrapolate(torch.randn(2, 5, 2), 0)
    with pytest.raises(ValueError, match="length"):
        model.sample(2, 0)
    with pytest.raises(ValueError, match="latent"):
        LS4(channels=1, latent=0)
