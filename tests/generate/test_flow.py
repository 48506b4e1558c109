"""Flow matching (MelodyFlow): the loss against its formula, Euler sampling and both inversions against
closed forms on analytic velocity fields."""

from __future__ import annotations

import math

import pytest
import torch

from seqlab.generate.data import sinusoid_trajectories
from seqlab.generate.flow import (
    FlowTransformer,
    euler_sample,
    flow_matching_loss,
    invert_fixed_point,
    invert_naive,
    invert_regularised,
    noise_regulariser,
)
from seqlab.registry import create


def test_loss_matches_formula():
    def field(x, t, c):
        return 0.5 * x + t[:, None, None]

    x1 = torch.randn(4, 6, 2)
    got = flow_matching_loss(field, x1, 0, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    x0 = torch.randn(x1.shape, generator=g)
    t = torch.rand(4, generator=g)
    total = 0.0
    for b in range(4):
        xt = (1 - t[b]) * x0[b] + t[b] * x1[b]
        total += float((0.5 * xt + t[b] - (x1[b] - x0[b])).pow(2).sum())
    assert float(got) == pytest.approx(total / x1.numel(), rel=1e-5)


def test_euler_on_a_linear_field():
    x0 = torch.randn(2, 3, 2)
    out = euler_sample(lambda x, t, c: 0.7 * x, x0, 0, steps=5)
    torch.testing.assert_close(out, x0 * (1 + 0.7 / 5) ** 5)
    fine = euler_sample(lambda x, t, c: 0.7 * x, x0, 0, steps=2000)
    torch.testing.assert_close(fine, x0 * torch.exp(torch.tensor(0.7)), rtol=1e-3, atol=1e-3)


def field(x, t, c):
    return torch.sin(3 * x) + 2 * t[:, None, None] * torch.cos(x)


def test_fixed_point_inversion_inverts_the_sampler_and_naive_does_not():
    x1 = torch.randn(3, 5, 2, dtype=torch.float64)
    naive = euler_sample(field, invert_naive(field, x1, 0, 8), 0, 8)
    fixed = euler_sample(field, invert_fixed_point(field, x1, 0, 8, iters=30, average=1), 0, 8)
    err_naive = float((naive - x1).abs().max())
    err_fixed = float((fixed - x1).abs().max())
    assert err_fixed < 1e-8
    assert err_naive > 1e-2


def test_bad_input():
    with pytest.raises(ValueError, match="steps"):
        euler_sample(field, torch.zeros(1, 2, 2), 0, 0)
    with pytest.raises(ValueError, match="average"):
        invert_fixed_point(field, torch.zeros(1, 2, 2), 0, 4, iters=2, average=3)
    model = FlowTransformer(2, d_model=8, n_heads=2, layers=1, max_len=8)
    with pytest.raises(ValueError, match="max_len 8"):
        model(torch.zeros(1, 9, 2), torch.zeros(1), 0)
    with pytest.raises(ValueError, match=r"conditions must lie in \[0, 2\)"):
        model(torch.zeros(1, 4, 2), torch.zeros(1), 2)
    nan = torch.zeros(1, 4, 2)
    nan[0, 1, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.loss(nan, 0)


def test_registered_and_learns():
    torch.manual_seed(0)
    model = create("generator", "flow-matching", dim=2, d_model=16, n_heads=2, layers=1, max_len=16)
    data = sinusoid_trajectories(32, 12, channels=2, seed=0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = float(model.loss(data, 0, torch.Generator().manual_seed(1)))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(80):
        loss = model.loss(data, 0, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(model.loss(data, 0, torch.Generator().manual_seed(1)))
    assert after < 0.8 * before


def _loop_regulariser(eps, max_lag):
    total, n = 0.0, 0
    for b in range(eps.shape[0]):
        for d in range(eps.shape[2]):
            e = [float(v) for v in eps[b, :, d]]
            m = sum(e) / len(e)
            var = sum((v - m) ** 2 for v in e) / len(e)
            kl = 0.5 * (m * m + var - 1 - math.log(var))
            c = [v - m for v in e]
            ac = 0.0
            for k in range(1, max_lag + 1):
                ac += (sum(c[i] * c[i + k] for i in range(len(c) - k)) / (len(c) - k) / var) ** 2
            total, n = total + kl + ac, n + 1
    return total / n


def test_noise_regulariser_matches_loop_and_prefers_white_noise():
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(3, 11, 2, generator=g, dtype=torch.float64)
    assert float(noise_regulariser(eps, 3)) == pytest.approx(_loop_regulariser(eps, 3), rel=1e-9)
    white = torch.randn(8, 400, 2, generator=g)
    smooth = torch.cumsum(white, 1) / 20
    assert float(noise_regulariser(white)) < 0.05 < 1.0 < float(noise_regulariser(smooth))
    with pytest.raises(ValueError, match="T >= 2"):
        noise_regulariser(torch.zeros(2, 1, 3))


def test_regularised_inversion_reduces_to_fixed_point_and_whitens_the_noise():
    x1 = torch.randn(3, 12, 2, dtype=torch.float64)
    plain = invert_fixed_point(field, x1, 0, 8, iters=4, average=2)
    torch.testing.assert_close(invert_regularised(field, x1, 0, 8, iters=4, average=2, weight=0.0), plain)
    reg = invert_regularised(field, x1, 0, 8, iters=4, average=2, weight=0.1)
    assert float(noise_regulariser(reg)) < float(noise_regulariser(plain))
    with pytest.raises(ValueError, match="weight"):
        invert_regularised(field, x1, 0, 8, weight=-1.0)
