"""Word, sentence and document embeddings (issue 12).

This package's sequence/document part: pooling (CLS, mean, LMK), KV-Embedding, DenoSent, Nugget,
continuous retrieval with BM25 as the discrete baseline, and the Lee document-similarity evaluation.
"""

from seqlab.embed import (  # noqa: F401  (the imports register the embedders and experiments)
    denosent,
    docsim,
    kv_embedding,
    model_experiments,
    nugget,
    pooling,
    retrieval,
)
