"""Representation probes (issue 13): what sequence representations hold.

Importing the package registers its probes (kind ``probe``).
"""

from __future__ import annotations

from seqlab.probe import concepts, concepts_experiment, headcount, lrp_experiment, oversquashing  # noqa: F401
from seqlab.probe.lrp import Relevance, integrated_gradients, lrp_rules, relevance
from seqlab.probe.operator import (
    Interaction,
    apply_operator,
    interaction,
    interaction_operator,
    jacobian_operator,
)
from seqlab.probe.oversquashing import last_token_collapse

__all__ = [
    "Interaction",
    "Relevance",
    "apply_operator",
    "integrated_gradients",
    "interaction",
    "interaction_operator",
    "jacobian_operator",
    "last_token_collapse",
    "lrp_rules",
    "relevance",
]
