"""Statistics over seeds: the mean and its two-sided Student-t confidence interval.

For ``n`` independent runs (seeds) with values ``x_1..x_n``, mean ``m`` and sample standard
deviation ``s`` (denominator ``n - 1``), the ``level`` interval is

    m +- t_{(1 + level) / 2, n - 1} * s / sqrt(n)

where ``t_{p, nu}`` is the ``p`` quantile of Student's t distribution with ``nu`` degrees of
freedom (W. S. Gosset, "The probable error of a mean", Biometrika 1908). The quantile is computed
here, without scipy: the t CDF through the regularized incomplete beta function,

    P(T <= t) = 1 - I_x(nu / 2, 1 / 2) / 2,   x = nu / (nu + t^2),   t >= 0,

with ``I_x(a, b)`` evaluated by its continued fraction (modified Lentz), then inverted by bisection
(the CDF is monotone). Known values: t_{0.975,1} = 12.706, t_{0.975,2} = 4.303, t_{0.975,4} = 2.776,
t_{0.975,30} = 2.042.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz), for x < (a+1)/(a+b+2)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    frac = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            frac *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return frac


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0):
        raise ValueError(f"betainc expects a > 0 and b > 0, got a={a!r}, b={b!r}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc expects 0 <= x <= 1, got x={x!r}")
    if x in (0.0, 1.0):
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if not df > 0:
        raise ValueError(f"t_cdf expects degrees of freedom > 0, got {df!r}")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile expects a probability 0 < p < 1, got {p!r}")
    if not df > 0:
        raise ValueError(f"t_quantile expects degrees of freedom > 0, got {df!r}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with its ``level`` confidence interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int
    level: float = 0.95

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def format(self, digits: int = 3) -> str:
        if self.n < 2:
            return f"{self.mean:.{digits}f} (n={self.n}, no interval)"
        return f"{self.mean:.{digits}f} +- {self.half_width:.{digits}f} (n={self.n})"


def mean_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and two-sided Student-t ``level`` interval of ``values`` (one per seed).

    With a single value the interval is unbounded (-inf, inf): one seed says nothing about spread.
    """
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("mean_interval expects at least one value, got none")
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise ValueError(f"mean_interval expects finite values, got {bad[0]!r} among {vals}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"mean_interval expects a confidence level in (0, 1), got {level!r}")
    n = len(vals)
    mean = math.fsum(vals) / n
    if n < 2:
        return Interval(mean, -math.inf, math.inf, n, level)
    var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1)
    half = t_quantile((1.0 + level) / 2.0, n - 1) * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half, n, level)
