"""Word, sentence and document embeddings (issue 12).

This package's sequence/document part: pooling (CLS, mean, LMK), KV-Embedding, DenoSent, Nugget,
continuous retrieval with BM25 as the discrete baseline, and the Lee document-similarity evaluation.
"""

from seqlab.embed import docsim, kv_embedding, model_experiments, pooling, retrieval  # noqa: F401
