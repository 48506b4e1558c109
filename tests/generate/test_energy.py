"""SLED's energy-distance loss against a plain loop and closed forms; the SLED model's mechanics."""

from __future__ import annotations

import math

import pytest
import torch

from seqlab.generate import SLED, energy_distance_loss, sinusoid_trajectories


def loop_energy(samples, target, beta):
    m, n = samples.shape[0], samples.shape[1]
    total = 0.0
    for b in range(n):
        fit = sum(float((samples[i, b] - target[b]).norm()) ** beta for i in range(m)) / m
        pairs = [(i, j) for i in range(m) for j in range(m) if i != j]
        spread = sum(float((samples[i, b] - samples[j, b]).norm()) ** beta for i, j in pairs)
        total += fit - 0.5 * spread / (m * (m - 1))
    return total / n


@pytest.mark.parametrize("beta", [1.0, 0.5, 1.5])
def test_loss_matches_loop(beta):
    g = torch.Generator().manual_seed(0)
    samples, target = torch.randn(4, 5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g)
    got = float(energy_distance_loss(samples, target.double(), beta))
    assert got == pytest.approx(loop_energy(samples, target.double(), beta), rel=1e-9, abs=1e-9)


def gaussian_score(sigma, mu, n=4000, m=48, seed=0):
    """Monte-Carlo energy score of N(mu, sigma^2) against y ~ N(0, 1) (common random numbers)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    eps = torch.randn(m, n, 1, generator=g, dtype=torch.float64)
    return float(energy_distance_loss(mu + sigma * eps, y))


def test_gaussian_score_matches_closed_form():
    # E|X - Y| = sqrt(2/pi) sqrt(s^2 + 1), E|X - X'| = sqrt(2/pi) sqrt(2) s, for X ~ N(0, s^2), Y ~ N(0, 1)
    for s in (0.5, 1.0, 2.0):
        exact = math.sqrt(2 / math.pi) * (math.sqrt(s * s + 1) - 0.5 * math.sqrt(2) * s)
        assert gaussian_score(s, 0.0) == pytest.approx(exact, abs=0.02)


def test_minimised_by_the_true_distribution():
    true = gaussian_score(1.0, 0.0)
    for sigma, mu in [(0.5, 0.0), (2.0, 0.0), (1.0, 0.5), (0.7, 0.2), (0.0, 0.0)]:
        assert gaussian_score(sigma, mu) > true + 0.005


def test_bad_input():
    with pytest.raises(ValueError, match="m >= 2"):
        energy_distance_loss(torch.randn(1, 4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="must be"):
        energy_distance_loss(torch.randn(3, 4, 2), torch.randn(5, 2))
    with pytest.raises(ValueError, match="beta"):
        energy_distance_loss(torch.randn(3, 4, 2), torch.randn(4, 2), beta=2.0)
    with pytest.raises(ValueError, match="n_samples"):
        SLED(3, n_samples=1)
    model = SLED(3, hidden=8)
    bad = torch.randn(2, 5, 3)
    bad[0, 2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.loss(bad)
    with pytest.raises(ValueError, match="last dimension 3"):
        model.loss(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="steps"):
        model.generate(torch.randn(2, 5, 3), 0)


def test_generate_steps_the_same_model():
    """Each sampled frame is a head draw on the backbone state of the prefix and the frames before it."""
    torch.manual_seed(0)
    model = SLED(3, hidden=8, noise_dim=4)
    prefix = torch.randn(2, 5, 3)
    out = model.generate(prefix, 3, torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    seq = prefix
    with torch.no_grad():
        for t in range(3):
            h, _ = model.backbone(seq)
            frame = model.draw(h[:, -1:], 1, g)[0]
            torch.testing.assert_close(frame, out[:, t : t + 1])
            seq = torch.cat([seq, frame], 1)


@pytest.mark.parametrize(
    "net", [{}, {"backbone": "transformer", "n_layers": 1, "n_heads": 2}], ids=["gru", "transformer"]
)
def test_training_reduces_the_loss(net):
    torch.manual_seed(0)
    data = sinusoid_trajectories(32, 16, channels=2, seed=0, noise=0.05)
    model = SLED(2, hidden=16, noise_dim=4, **net)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = float(model.loss(data, torch.Generator().manual_seed(1)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model.loss(data, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(model.loss(data, torch.Generator().manual_seed(1)))
    assert after < 0.6 * before
