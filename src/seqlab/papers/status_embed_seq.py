"""Judgements of the sequence-representation papers (seqlab.embed: hvm, sorting, continuity, categorical)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement

STATUS = {
    "Building, Reusing, and Generalizing Abstract Representations from Concrete Sequences": Judgement(
        PARTIAL,
        "hvm: online chunking by an independence test, variables from shared left/right contexts, greedy "
        "longest-match parsing, two-part description length vs LZ78 (written here) and zlib on generated "
        "nested grammars; claim hvm_vs_lz; memory decay as an option (decay, forget_below; off by default, "
        "so the claim runs without it): chunk strengths forget exponentially per parsed unit and chunks "
        "below the threshold are deleted after each pass (tested against the direct sum); missing: the "
        "paper's probabilistic parsing, the babyLM corpus, the human recall-time and LLM transfer "
        "experiments",
    ),
    "Unsupervised Representation Learning by Sorting Sequences": Judgement(
        IMPLEMENTED,
        "sorting_opn: k windows shuffled, k!/2 classes with forward/backward merged, siamese encoder, "
        "pairwise feature extraction and order head (OPN); frozen-encoder linear probe vs random init on "
        "generated trajectories, claim sorting_pretext_probe; on sequences, so the video-only parts "
        "(motion-aware tuple sampling, spatial jittering, channel splitting, CaffeNet, UCF-101) "
        "are not built",
    ),
    "Self-supervised Spatiotemporal Representation Learning by Exploiting Video Continuity": Judgement(
        IMPLEMENTED,
        "continuity_cpnet: continuity justification, discontinuity localisation and missing-section "
        "approximation (contrastive, gradient-stopped target) jointly on one backbone over sequences; "
        "claim continuity_pretext_probe; on sequences, so the video parts (3D-CNN backbones, "
        "action recognition / retrieval) are not built",
    ),
    "Categorical Representation Learning: Morphism is All You Need": Judgement(
        PARTIAL,
        "categorical: objects as vectors, morphisms as matrices, composites as matrix products, "
        "composition_error check, on a generated typed category; claim categorical_composition against "
        "free per-composite matrices; missing: the paper's categorifier text translator (its 17x "
        "proof of concept) and learning from co-occurrence statistics",
    ),
}
