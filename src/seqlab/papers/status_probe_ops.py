"""Paper judgements of the probe operators (interaction operator, relevance, concept geometry)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, Judgement

STATUS = {
    "How Many Heads Make an SSM? A Unified Framework for Attention and State Space Models": Judgement(
        IMPLEMENTED,
        "probe.interaction_operator: exact W(X) per head / channel / block for every linear-in-values mixer, "
        "the Jacobian elsewhere (tests over every registered mixer); head-count experiment and claim "
        "head_count (probe/headcount.py)",
    ),
}
