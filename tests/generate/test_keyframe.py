"""Keyframe-then-interpolate (KeyFace's two stages) and the direct AR baseline, against plain loops."""

from __future__ import annotations

import pytest
import torch

from seqlab.generate import DirectAR, Interpolator, KeyframeInterpolator, sinusoid_trajectories
from seqlab.registry import create


def test_interpolator_is_linear_interpolation_when_the_correction_is_zero():
    torch.manual_seed(0)
    interp = Interpolator(2, k=4, hidden=8)
    torch.nn.init.zeros_(interp.net[-1].weight)
    torch.nn.init.zeros_(interp.net[-1].bias)
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    out = interp(a, b)
    for i in range(1, 4):
        torch.testing.assert_close(out[:, i - 1], a + (b - a) * i / 4)


def test_direct_generation_feeds_back_its_own_frames():
    torch.manual_seed(0)
    model = DirectAR(2, hidden=8)
    prefix = torch.randn(2, 5, 2)
    out = model.generate(prefix, 4)
    seq = prefix
    with torch.no_grad():
        for t in range(4):
            h, _ = model.backbone(seq)
            nxt = seq[:, -1:] + model.out(h[:, -1:])
            torch.testing.assert_close(nxt, out[:, t : t + 1], rtol=1e-5, atol=1e-6)
            seq = torch.cat([seq, nxt], 1)


def test_two_stage_generation_matches_a_loop():
    torch.manual_seed(0)
    model = KeyframeInterpolator(2, k=3, hidden=8)
    prefix = torch.randn(2, 7, 2)  # keyframes at 0, 3, 6
    out = model.generate(prefix, 8)  # 3 keyframes cover 9 frames, cut to 8
    keys = model.keyframes.generate(prefix[:, ::3], 3)
    bounds = [prefix[:, -1]] + [keys[:, j] for j in range(3)]
    expected = []
    with torch.no_grad():
        for j in range(3):
            gap = model.interpolator(bounds[j], bounds[j + 1])
            expected += [gap[:, 0], gap[:, 1], bounds[j + 1]]
    torch.testing.assert_close(out, torch.stack(expected[:8], 1))


def test_interpolation_loss_matches_a_loop():
    torch.manual_seed(0)
    model = KeyframeInterpolator(2, k=4, hidden=8)
    x = torch.randn(3, 11, 2)  # keyframes 0, 4, 8; frame 9, 10 unused
    se, count = 0.0, 0
    with torch.no_grad():
        for j in range(2):
            pred = model.interpolator(x[:, 4 * j], x[:, 4 * j + 4])
            for i in range(3):
                se += float((pred[:, i] - x[:, 4 * j + 1 + i]).pow(2).sum())
                count += x.shape[0] * x.shape[2]
        assert float(model.interpolation_loss(x)) == pytest.approx(se / count, rel=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        KeyframeInterpolator(2, k=1)
    model = KeyframeInterpolator(2, k=4, hidden=8, horizon=16)
    with pytest.raises(ValueError, match="horizon of 16"):
        model.generate(torch.randn(1, 5, 2), 17)
    with pytest.raises(ValueError, match="multiple of k"):
        model.generate(torch.randn(1, 6, 2), 8)
    with pytest.raises(ValueError, match="length >= k"):
        model.interpolation_loss(torch.randn(1, 4, 2))
    nan = torch.zeros(1, 5, 2)
    nan[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model.generate(nan, 4)
    with pytest.raises(ValueError, match="horizon of 8"):
        DirectAR(2, 8, horizon=8).generate(torch.randn(1, 3, 2), 9)


def test_registered_and_learns():
    model = create("generator", "keyframe-interpolate", dim=2, k=4, hidden=16)
    assert isinstance(model, KeyframeInterpolator)
    torch.manual_seed(0)
    data = sinusoid_trajectories(32, 17, channels=2, seed=0)
    with torch.no_grad():
        before = float(model.loss(data))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = model.loss(data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(model.loss(data)) < 0.5 * before


def test_sinusoids_obey_their_recurrence():
    x = sinusoid_trajectories(3, 40, channels=2, n_freqs=1, seed=1)
    # x_{t+1} + x_{t-1} = 2 cos(w) x_t for one sinusoid: the ratio is the same at every t
    ratio = (x[:, 2:] + x[:, :-2]) / x[:, 1:-1]
    ok = x[:, 1:-1].abs() > 0.2
    for c in range(2):
        r = ratio[..., c][ok[..., c]]
        assert float(r.max() - r.min()) < 1e-3
    with pytest.raises(ValueError, match="length"):
        sinusoid_trajectories(2, 0)
    with pytest.raises(ValueError, match="noise"):
        sinusoid_trajectories(2, 5, noise=-1.0)
