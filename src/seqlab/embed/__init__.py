"""Word, sentence and sequence embeddings (issue 12). Each module registers its embedders: one import each.

Words: word2vec (skip-gram, CBOW), fastText, Sent2Vec, CMOW / hybrid CBOW-CMOW. Sentences and documents:
pooling (CLS, mean, LMK), KV-Embedding, DenoSent, Nugget, continuous retrieval with BM25 as the discrete
baseline, and the Lee document-similarity evaluation. Sequences: HVM chunking vs Lempel-Ziv, the sorting
and continuity pretext tasks, categorical (morphisms-as-matrices) embeddings.
"""

import seqlab.embed.categorical  # noqa: F401
import seqlab.embed.cmow  # noqa: F401
import seqlab.embed.continuity  # noqa: F401
import seqlab.embed.denosent  # noqa: F401
import seqlab.embed.docsim  # noqa: F401
import seqlab.embed.experiments_extra  # noqa: F401
import seqlab.embed.experiments_extra2  # noqa: F401
import seqlab.embed.experiments_misc  # noqa: F401
import seqlab.embed.experiments_seq  # noqa: F401
import seqlab.embed.experiments_words  # noqa: F401
import seqlab.embed.fasttext  # noqa: F401
import seqlab.embed.hvm  # noqa: F401
import seqlab.embed.kv_embedding  # noqa: F401
import seqlab.embed.model_experiments  # noqa: F401
import seqlab.embed.nugget  # noqa: F401
import seqlab.embed.pixelbytes  # noqa: F401
import seqlab.embed.pooling  # noqa: F401
import seqlab.embed.retrieval  # noqa: F401
import seqlab.embed.sent2vec  # noqa: F401
import seqlab.embed.sorting  # noqa: F401
import seqlab.embed.word2vec  # noqa: F401
