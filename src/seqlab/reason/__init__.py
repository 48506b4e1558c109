"""Continuous chain of thought: reasoning in latent space, compared with discrete CoT.

Reasoners (registered kind ``"reasoner"``, ``seqlab list reasoners``), one file each:
:mod:`~seqlab.reason.coconut` (Coconut), :mod:`~seqlab.reason.superposition` (reasoning by
superposition), :mod:`~seqlab.reason.cot2` (CoT2), :mod:`~seqlab.reason.pccot` (PCCoT) and the
discrete references :mod:`~seqlab.reason.discrete` (``cot``, ``no_cot``). They train through one
loop (:func:`seqlab.reason.train.fit`) on the reasoning tasks of :mod:`seqlab.tasks`
(``prosqa``, ``prontoqa``, ``reachability``, ``subset_sum``, ``arithmetic``). See docs/reason.md.
"""

from seqlab.reason import (  # noqa: F401
    ccdd,
    ccdd_experiments,
    ccot,
    cocomix,
    cocomix_experiments,
    coconut,
    continuous_memory,
    cot2,
    discrete,
    experiments,
    experiments_soft,
    memory_experiments,
    pccot,
    softcot,
    softtokens,
    superposition,
)
from seqlab.reason.base import Prediction, Reasoner, check_lm, reasoning_model
from seqlab.reason.ccot import CCoT
from seqlab.reason.coconut import Coconut, frontier_mass
from seqlab.reason.cot2 import CoT2
from seqlab.reason.discrete import DiscreteCoT, NoCoT
from seqlab.reason.pccot import PCCoT
from seqlab.reason.softcot import SoftCoT
from seqlab.reason.softtokens import SoftTokens, pass_at_k
from seqlab.reason.superposition import Superposition, frontier_scores, projections
from seqlab.reason.train import evaluate, fit

__all__ = [
    "CCoT",
    "CoT2",
    "Coconut",
    "DiscreteCoT",
    "NoCoT",
    "PCCoT",
    "Prediction",
    "Reasoner",
    "SoftCoT",
    "SoftTokens",
    "Superposition",
    "check_lm",
    "evaluate",
    "fit",
    "frontier_mass",
    "frontier_scores",
    "pass_at_k",
    "projections",
    "reasoning_model",
]
