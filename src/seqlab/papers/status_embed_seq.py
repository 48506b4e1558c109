"""Judgements of the sequence-representation papers (seqlab.embed: hvm, sorting, continuity, categorical)."""

from __future__ import annotations

from seqlab.papers.status import IMPLEMENTED, PARTIAL, Judgement  # noqa: F401

STATUS = {
    "Building, Reusing, and Generalizing Abstract Representations from Concrete Sequences": Judgement(
        PARTIAL,
        "hvm: online chunking by an independence test, variables from shared left/right contexts, greedy "
        "longest-match parsing, two-part description length vs LZ78 (written here) and zlib on generated "
        "nested grammars; claim hvm_vs_lz; missing: the paper's probabilistic parsing and memory decay, "
        "the babyLM corpus, the human recall-time and LLM transfer experiments",
    ),
}
