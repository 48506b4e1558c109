"""Time-series generation (issue 16): LS4 and its GRU-VAE baseline, offline data, metrics.

Importing the package registers its models (kind ``timeseries``) and experiments.
"""

from __future__ import annotations

from seqlab.timeseries import experiments, ls4  # noqa: F401
from seqlab.timeseries.data import check_series, load_series, oscillator_series, standardize, windows
from seqlab.timeseries.ls4 import GRUVAE, LS4, LatentSequenceVAE, gaussian_kl
from seqlab.timeseries.metrics import acf, acf_discrepancy, discriminative_score, marginal_discrepancy

__all__ = [
    "GRUVAE",
    "LS4",
    "LatentSequenceVAE",
    "acf",
    "acf_discrepancy",
    "check_series",
    "discriminative_score",
    "gaussian_kl",
    "load_series",
    "marginal_discrepancy",
    "oscillator_series",
    "standardize",
    "windows",
]
