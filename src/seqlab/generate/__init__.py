"""Generation of continuous sequences (issue 16): SLED, keyframe-then-interpolate, flow matching
(MelodyFlow), RVQ-token baseline.

Importing the package registers its generators (kind ``generator``) and experiments.
"""

from __future__ import annotations

from seqlab.generate import autoencoder, energy, experiments, flow, keyframe, rvq_ar  # noqa: F401
from seqlab.generate.data import check_sequences, sinusoid_trajectories
from seqlab.generate.energy import SLED, energy_distance_loss
from seqlab.generate.flow import FlowTransformer, euler_sample, invert_fixed_point, invert_naive
from seqlab.generate.keyframe import DirectAR, Interpolator, KeyframeInterpolator
from seqlab.generate.rvq_ar import RVQTokenAR

__all__ = [
    "SLED",
    "DirectAR",
    "FlowTransformer",
    "Interpolator",
    "KeyframeInterpolator",
    "RVQTokenAR",
    "check_sequences",
    "energy_distance_loss",
    "euler_sample",
    "invert_fixed_point",
    "invert_naive",
    "sinusoid_trajectories",
]
