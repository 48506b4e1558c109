"""Offline series, their checks, and the generation metrics against direct references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.timeseries import (
    acf,
    acf_discrepancy,
    check_series,
    discriminative_score,
    load_series,
    marginal_discrepancy,
    oscillator_series,
    windows,
)
from seqlab.timeseries.data import SERIES
from seqlab.timeseries.experiments import fit_ar, sample_ar


@pytest.mark.parametrize("name", SERIES)
def test_offline_series_load_regular(name):
    values, stamps = load_series(name, fill="interpolate")
    assert values.ndim == 1 and values.shape == stamps.shape and len(values) >= 100
    check_series(values, stamps)


def test_missing_values_are_refused_until_filled():
    values, stamps = load_series("co2")
    with pytest.raises(ValueError, match="NaN/inf value"):
        check_series(values, stamps)
    with pytest.raises(ValueError, match="NaN"):
        windows(values, 10, timestamps=stamps)
    filled, _ = load_series("co2", fill="interpolate")
    assert np.isfinite(filled).all() and np.array_equal(filled[~np.isnan(values)], values[~np.isnan(values)])


def test_irregular_timestamps_and_other_bad_input():
    with pytest.raises(ValueError, match="irregular"):
        check_series([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 5.0])
    with pytest.raises(ValueError, match="increase"):
        check_series([1.0, 2.0, 3.0], [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="empty"):
        check_series([])
    with pytest.raises(ValueError, match="unknown series"):
        load_series("airline")
    with pytest.raises(ValueError, match="window length"):
        windows(np.arange(5.0), 6)


def test_windows_are_the_slices():
    v = np.arange(10.0)
    w = windows(v, 4, stride=3)
    assert w.shape == (3, 4, 1) and w[2, :, 0].tolist() == [6.0, 7.0, 8.0, 9.0]


def test_acf_matches_statsmodels():
    from statsmodels.tsa.stattools import acf as sm_acf

    x = oscillator_series(1, 60, seed=3)
    ours = acf(x, 8)[:, 0].numpy()
    np.testing.assert_allclose(ours, sm_acf(x[0, :, 0].double().numpy(), nlags=8, fft=False), atol=1e-10)


def test_marginal_and_acf_discrepancy_zero_on_identical_sets_and_large_on_shuffles():
    x = oscillator_series(50, 40, seed=0)
    assert marginal_discrepancy(x, x) == 0 and acf_discrepancy(x, x) == 0
    shuffled = x.reshape(-1)[torch.randperm(x.numel(), generator=torch.Generator().manual_seed(0))]
    shuffled = shuffled.reshape(x.shape)
    assert marginal_discrepancy(x, shuffled) == pytest.approx(0, abs=1e-9)
    assert acf_discrepancy(x, shuffled) > 0.2
    assert marginal_discrepancy(x, x + 3.0) > 0.1


def test_marginal_matches_a_direct_histogram():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(4, 10, 1, generator=g), torch.rand(4, 10, 1, generator=g) * 0.5
    edges = np.linspace(float(real.min()), float(real.max()), 6)
    width = edges[1] - edges[0]
    pr = np.histogram(real.numpy().ravel(), edges)[0] / (40 * width)
    pf = np.histogram(np.clip(fake.numpy().ravel(), edges[0], edges[-1]), edges)[0] / (40 * width)
    assert marginal_discrepancy(real, fake, bins=5) == pytest.approx(np.abs(pr - pf).mean(), rel=1e-6)


def test_discriminative_score_separates_only_different_sets():
    same_a, same_b = oscillator_series(96, 16, seed=0), oscillator_series(96, 16, seed=1)
    noise = torch.randn(96, 16, 1, generator=torch.Generator().manual_seed(0))
    assert discriminative_score(same_a, same_b, steps=80) < 0.15
    assert discriminative_score(same_a, noise, steps=80) > 0.4


def test_ar_fit_recovers_a_known_process():
    g = torch.Generator().manual_seed(0)
    coef = torch.tensor([0.5, 0.3], dtype=torch.float64)  # x_t = 0.5 x_{t-2} + 0.3 x_{t-1} + e
    data = sample_ar(coef, 0.0, 1.0, 200, 80, g)
    est, icpt, std = fit_ar(data, 2)
    torch.testing.assert_close(est, coef, atol=0.03, rtol=0)
    assert abs(icpt) < 0.05 and std == pytest.approx(1.0, abs=0.03)


def test_metric_inputs_are_checked():
    x = oscillator_series(4, 10)
    with pytest.raises(ValueError, match="same"):
        acf_discrepancy(x, oscillator_series(4, 12))
    with pytest.raises(ValueError, match="NaN"):
        marginal_discrepancy(x, x * float("nan"))
    with pytest.raises(ValueError, match="max_lag"):
        acf(x, 10)
