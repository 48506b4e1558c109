"""Generation of continuous sequences (issue 16): SLED, keyframe-then-interpolate, RVQ-token baseline.

Importing the package registers its generators (kind ``generator``) and experiments.
"""

from __future__ import annotations

from seqlab.generate import energy, experiments, keyframe, rvq_ar  # noqa: F401
from seqlab.generate.data import check_sequences, sinusoid_trajectories
from seqlab.generate.energy import SLED, energy_distance_loss
from seqlab.generate.keyframe import DirectAR, Interpolator, KeyframeInterpolator
from seqlab.generate.rvq_ar import RVQTokenAR

__all__ = [
    "SLED",
    "DirectAR",
    "Interpolator",
    "KeyframeInterpolator",
    "RVQTokenAR",
    "check_sequences",
    "energy_distance_loss",
    "sinusoid_trajectories",
]
