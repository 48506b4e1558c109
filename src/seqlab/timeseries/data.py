"""Time series that ship offline, checked and cut into windows, plus a generated family.

Real series come from the data sets inside the ``statsmodels`` wheel (the ``[data]`` extra):

========== ============================== ======= ======================
name       what                           length  step
========== ============================== ======= ======================
sunspots   yearly sunspot activity         309    1 year (1700-2008)
nile       yearly Nile flow at Aswan       100    1 year (1871-1970)
co2        weekly Mauna Loa CO2 (ppm)     2284    1 week, 59 missing
elnino     monthly Pacific SST             732    1 month (1950-2010)
========== ============================== ======= ======================

:func:`load_series` returns ``(values, timestamps)``; :func:`check_series` refuses NaNs and
irregular timestamps with a message naming the first bad index (``co2`` has gaps: load it with
``fill="interpolate"`` to fill them linearly, an explicit choice, never a silent one).

:func:`oscillator_series` generates non-Gaussian quasi-periodic series: a sinusoid whose
amplitude follows a slow random walk, passed through ``x -> x + 0.5 x^2`` and observed with
noise. Windows from either source are standardised with the training windows' mean and
standard deviation (:func:`standardize`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

SERIES = ("sunspots", "nile", "co2", "elnino")


def _statsmodels_datasets():
    try:
        from statsmodels import datasets
    except ImportError as e:  # pragma: no cover - the [data] extra installs it
        raise ImportError(
            "seqlab.timeseries.load_series needs statsmodels (its wheel ships the data sets): "
            "pip install 'seqlab[data]'"
        ) from e
    return datasets


def load_series(name: str, fill: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values (T,), timestamps (T,))`` of one offline series, float64, in time order.

    ``fill="interpolate"`` fills missing values linearly in time; without it a series with
    missing values raises (see :func:`check_series`).
    """
    if name not in SERIES:
        raise ValueError(f"unknown series {name!r}; available: {', '.join(SERIES)}")
    if fill not in (None, "interpolate"):
        raise ValueError(f"fill must be None or 'interpolate', got {fill!r}")
    ds = _statsmodels_datasets()
    if name == "sunspots":
        d = ds.sunspots.load_pandas().data
        t, v = d["YEAR"].to_numpy(float), d["SUNACTIVITY"].to_numpy(float)
    elif name == "nile":
        d = ds.nile.load_pandas().data
        t, v = d["year"].to_numpy(float), d["volume"].to_numpy(float)
    elif name == "co2":
        d = ds.co2.load_pandas().data
        t = np.arange(len(d), dtype=float)  # weekly index (the DatetimeIndex is regular, W-SAT)
        v = d["co2"].to_numpy(float)
    else:
        d = ds.elnino.load_pandas().data
        months = d.drop(columns=["YEAR"]).to_numpy(float)  # (years, 12)
        v = months.reshape(-1)
        t = np.repeat(d["YEAR"].to_numpy(float), 12) + np.tile(np.arange(12) / 12.0, len(d))
    if fill == "interpolate":
        bad = ~np.isfinite(v)
        if bad.all():
            raise ValueError(f"series {name!r} has no finite value to interpolate from")
        v = v.copy()
        v[bad] = np.interp(t[bad], t[~bad], v[~bad])
    return v, t


def check_series(values, timestamps=None, who: str = "series") -> None:
    """Raise a clear error for NaN/inf values, an empty series or irregular timestamps."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError(f"{who} is empty; expected at least one value")
    bad = np.flatnonzero(~np.isfinite(v.reshape(v.shape[0], -1)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{who} has {bad.size} NaN/inf value(s), first at index {int(bad[0])}; fill them explicitly "
            "(e.g. load_series(name, fill='interpolate')) -- nothing is dropped silently"
        )
    if timestamps is None:
        return
    t = np.asarray(timestamps, dtype=float)
    if t.shape[0] != v.shape[0]:
        raise ValueError(f"{who}: {v.shape[0]} values but {t.shape[0]} timestamps")
    if t.size < 2:
        return
    dt = np.diff(t)
    if (dt <= 0).any():
        i = int(np.flatnonzero(dt <= 0)[0])
        raise ValueError(f"{who}: timestamps must increase strictly; t[{i + 1}]={t[i + 1]} <= t[{i}]={t[i]}")
    step = np.median(dt)
    off = np.flatnonzero(np.abs(dt - step) > 1e-6 * max(1.0, abs(step)))
    if off.size:
        i = int(off[0])
        raise ValueError(
            f"{who}: irregular timestamps (step {dt[i]:g} between index {i} and {i + 1}, expected the "
            f"regular step {step:g}); resample to a regular grid first"
        )


def windows(values, length: int, stride: int = 1, timestamps=None) -> torch.Tensor:
    """All windows ``(n, length, channels)`` of a checked series ``(T,)`` or ``(T, channels)``."""
    check_series(values, timestamps)
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 1:
        v = v[:, None]
    if not isinstance(length, int) or not 1 <= length <= v.shape[0]:
        raise ValueError(
            f"window length must be an int in [1, {v.shape[0]}] (the series length), got {length!r}"
        )
    if not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    starts = range(0, v.shape[0] - length + 1, stride)
    return torch.from_numpy(np.stack([v[s : s + length] for s in starts]))


def standardize(train: torch.Tensor, *others: torch.Tensor):
    """Scale every tensor by the per-channel mean and std of ``train`` ``(n, T, C)``."""
    mean = train.mean(dim=(0, 1), keepdim=True)
    std = train.std(dim=(0, 1), keepdim=True).clamp_min(1e-8)
    return tuple((x - mean) / std for x in (train, *others))


def oscillator_series(n: int, length: int, seed: int = 0, noise: float = 0.1) -> torch.Tensor:
    """``(n, length, 1)`` quasi-periodic, skewed series with a slowly drifting amplitude."""
    for name, v in (("n", n), ("length", length)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    g = torch.Generator().manual_seed(seed)
    freq = 0.15 + 0.25 * torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    walk = torch.cumsum(0.08 * torch.randn(n, length, generator=g), dim=1)
    amp = torch.exp(0.5 * torch.tanh(walk))
    t = torch.arange(length, dtype=torch.float32)[None]
    s = amp * torch.sin(freq * t + phase)
    x = s + 0.5 * s**2 + noise * torch.randn(n, length, generator=g)
    return x[..., None]
