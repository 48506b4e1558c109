"""Paper judgements of ``seqlab.timeseries``."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, Judgement
from seqlab.timeseries.ls4 import LS4_TITLE

STATUS = {
    LS4_TITLE: Judgement(
        IMPLEMENTED,
        "timeseries.ls4: latent prior, emission and posterior as S4D state-space stacks (convolutional view "
        "for training, tested equal to the recurrence), Gaussian ELBO with masked observations, ancestral "
        "generation, interpolation and extrapolation; GRU-VAE baseline; marginal / ACF / discriminative "
        "metrics on generated and statsmodels series; claim ls4_generation. The paper's data sets "
        "(Monash, PhysioNet, USHCN) are not offline: smaller offline series stand in",
    ),
}
