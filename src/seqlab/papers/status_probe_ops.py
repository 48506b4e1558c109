"""Paper judgements of the probe operators (interaction operator, relevance, concept geometry)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

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
    "The Geometry of Categorical and Hierarchical Concepts in Large Language Models": Judgement(
        PARTIAL,
        "probe.concept_geometry: causal inner product (whitened unembedding), the LDA concept-vector "
        "estimator, hierarchical and sibling orthogonality vs a shuffled hierarchy, held-out AUC on SmolLM2 "
        "with a shipped 3 x 4 x 25-word hierarchy; claim hierarchical_orthogonality; categorical simplices "
        "(probe.concepts_simplex: affine independence, barycentric projection of held-out words vs a "
        "shuffled hierarchy; claim categorical_simplex); missing: a WordNet-scale hierarchy",
    ),
}

# -- the counting and copying tasks --
STATUS["Transformers need glasses! Information over-squashing in language tasks"] = Judgement(
    IMPLEMENTED,
    "probe.last_token_collapse: last-token distance of t^n vs t^(n+1) at any layer, fp32 and after bf16 / "
    "fp16 rounding; probe.glasses_tasks: few-shot counting of 1s in 0/1 strings and copying the first or "
    "last digit of a long run, accuracy vs length on SmolLM2 with trivial baselines (guess L/2, the run "
    "digit), and the bf16 collapse of 1^n (tested with oracle / recency fake LMs); claims "
    "glasses_counting_length and glasses_copy_last_vs_first; the paper's Gemini-scale prompts and its "
    "sum/copy variants beyond these two tasks are not reproduced",
)
