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
    "MambaLRP: Explaining Selective State Space Sequence Models": Judgement(
        IMPLEMENTED,
        "probe.mamba_lrp: the paper's rules (SiLU/GELU and norm factors held constant, selective delta/B/C "
        "detached, half rule at the gate) through seqlab's Mamba models; conservation check against gradient "
        "x input and integrated gradients (captum-anchored); claim mamba_lrp_conservation",
    ),
}
