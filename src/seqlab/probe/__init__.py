"""seqlab.probe: what representations hold (docs/probe.md).

Similarity and alignment of two representations (:mod:`.similarity`), per-layer extraction and
layer-quality metrics (:mod:`.layers`), invertibility: collisions and SipIt (:mod:`.invert`).
Every probe is registered under kind ``"probe"`` with its paper (``seqlab list probes``).
"""

from seqlab.probe import similarity  # noqa: F401
from seqlab.probe.similarity import canonical_correlations, cka, mutual_knn, svcca

__all__ = ["canonical_correlations", "cka", "mutual_knn", "svcca"]
