"""seqlab.tokenize: continuous <-> discrete tokenizers (see docs/tokenize.md).

Importing the package registers every tokenizer under the registry kind ``"tokenizer"``.
"""

from seqlab.tokenize import (  # noqa: F401
    actions,
    fsq,
    kmeans,
    lfq,
    orderings,
    rvq,
    semantic_ids,
    sets,
    vq,
    vqtoken,
)
from seqlab.tokenize.base import PAD, Quantizer, QuantizerOutput, codebook_stats
from seqlab.tokenize.trie import PrefixTrie

__all__ = ["PAD", "PrefixTrie", "Quantizer", "QuantizerOutput", "codebook_stats"]
