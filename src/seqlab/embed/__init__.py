"""Word, sentence and sequence embeddings (issue 12). Each module registers its embedders: one import each."""

import seqlab.embed.cmow  # noqa: F401
import seqlab.embed.experiments_words  # noqa: F401
import seqlab.embed.fasttext  # noqa: F401
import seqlab.embed.sent2vec  # noqa: F401
import seqlab.embed.word2vec  # noqa: F401
