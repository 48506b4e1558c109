"""seqlab.probe: what representations hold (docs/probe.md).

Similarity and alignment of two representations (:mod:`.similarity`), per-layer extraction
(:mod:`.extract`) and layer-quality metrics (:mod:`.layers`), invertibility: collisions and SipIt
(:mod:`.invert`). Every probe is registered under kind ``"probe"`` with its paper
(``seqlab list probes``).
"""

from seqlab.probe import experiments, extract, invert, layers, similarity  # noqa: F401
from seqlab.probe.extract import embedding_table, layer_function, layer_states
from seqlab.probe.invert import (
    collision_test,
    fit_linear_inverse,
    last_token_states,
    sipit,
    sipit_search,
)
from seqlab.probe.similarity import canonical_correlations, cka, mutual_knn, svcca

__all__ = [
    "canonical_correlations",
    "cka",
    "collision_test",
    "embedding_table",
    "fit_linear_inverse",
    "last_token_states",
    "layer_function",
    "layer_states",
    "mutual_knn",
    "sipit",
    "sipit_search",
    "svcca",
]
