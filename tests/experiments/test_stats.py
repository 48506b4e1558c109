import math

import pytest

from seqlab.experiments.stats import betainc, mean_interval, t_cdf, t_quantile


@pytest.mark.parametrize(
    "p,df,expected",
    [
        (0.975, 1, 12.7062),
        (0.975, 2, 4.3027),
        (0.975, 4, 2.7764),
        (0.975, 9, 2.2622),
        (0.975, 30, 2.0423),
        (0.95, 3, 2.3534),
        (0.995, 10, 3.1693),
        (0.9, 1, 3.0777),
    ],
)
def test_t_quantile_matches_published_table(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)


def test_t_quantile_is_symmetric_and_tends_to_normal():
    assert t_quantile(0.025, 4) == pytest.approx(-t_quantile(0.975, 4))
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.975, 100000) == pytest.approx(1.95996, abs=1e-4)


def test_t_cdf_known_values_and_inverse():
    assert t_cdf(0.0, 3) == pytest.approx(0.5)
    assert t_cdf(2.0, 5) == pytest.approx(0.94903, abs=1e-5)
    # df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/pi
    for t in (-3.0, -0.5, 0.7, 10.0):
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
    for df in (2, 5, 17):
        assert t_cdf(t_quantile(0.9, df), df) == pytest.approx(0.9, abs=1e-10)


def test_betainc_closed_forms():
    # I_x(1, 1) = x ; I_x(a, 1) = x^a ; I_x(1, b) = 1 - (1-x)^b
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)
    assert betainc(2.5, 1, 0.4) == pytest.approx(0.4**2.5)
    assert betainc(1, 3, 0.2) == pytest.approx(1 - 0.8**3)
    assert betainc(2, 3, 0.0) == 0.0 and betainc(2, 3, 1.0) == 1.0


def test_mean_interval_by_hand():
    iv = mean_interval([1.0, 2.0, 3.0])
    half = 4.302653 * 1.0 / math.sqrt(3)
    assert iv.mean == pytest.approx(2.0)
    assert iv.low == pytest.approx(2.0 - half, abs=1e-5) and iv.high == pytest.approx(2.0 + half, abs=1e-5)
    assert iv.n == 3
    same = mean_interval([0.5, 0.5, 0.5])
    assert same.low == same.high == 0.5


def test_one_value_has_no_interval():
    iv = mean_interval([0.7])
    assert iv.mean == 0.7 and math.isinf(iv.low) and math.isinf(iv.high)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf"), 1.0, 2.0]])
def test_bad_values_raise(bad):
    with pytest.raises(ValueError, match="expects"):
        mean_interval(bad)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="probability"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.9, 0)
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=1.5)
