"""The prefix trie constrained decoding uses: :class:`seqlab.tokenize.trie.PrefixTrie`.

One implementation serves both ``seqlab.tokenize`` (the semantic-ID tokenizer's ``trie()``) and
``seqlab.decode`` (``constrained_beam``); this module keeps the ``seqlab.decode.trie`` import path.
"""

from seqlab.tokenize.trie import PrefixTrie

__all__ = ["PrefixTrie"]
