"""Representation probes (issue 13): what sequence representations hold (docs/probe.md).

Importing the package registers its probes (kind ``probe``): similarity and alignment of two
representations (:mod:`.similarity`), per-layer extraction (:mod:`.extract`) and layer-quality metrics
(:mod:`.layers`), invertibility: collisions and SipIt (:mod:`.invert`); interaction operators,
relevance, concept geometry and over-squashing (the other modules).
"""

from __future__ import annotations

from seqlab.probe import (  # noqa: F401  (imported to register their probes and experiments)
    checkpoint_layers,
    concat_runs,
    concat_runs_experiment,
    concepts,
    concepts_experiment,
    concepts_simplex,
    continuous,
    continuous_experiment,
    experiments,
    extract,
    flow_experiment,
    frames,
    frames_experiment,
    glasses_tasks,
    headcount,
    invert,
    layers,
    length_gap,
    lrp_experiment,
    onion,
    oversquashing,
    repeat_rnn,
    selective_bound,
    similarity,
    view_layers_experiment,
    view_metrics,
)
from seqlab.probe.extract import embedding_table, layer_function, layer_states
from seqlab.probe.invert import (
    collision_test,
    fit_linear_inverse,
    last_token_states,
    sipit,
    sipit_search,
)
from seqlab.probe.lrp import Relevance, integrated_gradients, lrp_rules, relevance
from seqlab.probe.operator import (
    Interaction,
    apply_operator,
    interaction,
    interaction_operator,
    jacobian_operator,
)
from seqlab.probe.oversquashing import last_token_collapse
from seqlab.probe.selective_bound import selective_ssm_bound_terms
from seqlab.probe.similarity import canonical_correlations, cka, mutual_knn, svcca

__all__ = [
    "Interaction",
    "Relevance",
    "apply_operator",
    "canonical_correlations",
    "cka",
    "collision_test",
    "embedding_table",
    "fit_linear_inverse",
    "integrated_gradients",
    "interaction",
    "interaction_operator",
    "jacobian_operator",
    "last_token_collapse",
    "last_token_states",
    "layer_function",
    "layer_states",
    "lrp_rules",
    "mutual_knn",
    "relevance",
    "selective_ssm_bound_terms",
    "sipit",
    "sipit_search",
    "svcca",
]
