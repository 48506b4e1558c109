"""A prefix trie over token sequences, for constrained decoding.

Built from the sequences a decoder may produce (for example the semantic IDs of a catalogue from
``seqlab.tokenize``'s ``semantic-ids`` tokenizer, one row per item): ``allowed(prefix)`` is the set
of tokens that extend ``prefix`` towards at least one of them, and ``complete(prefix)`` says whether
``prefix`` is itself one of them. Generative retrieval decodes inside this trie so that every beam
is a valid item ("Autoregressive Entity Retrieval", arXiv 2010.00904).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch


class PrefixTrie:
    """Nested-dict trie of integer token sequences (each at least one token long)."""

    def __init__(self, sequences: Iterable[Sequence[int]] | torch.Tensor):
        if isinstance(sequences, torch.Tensor):
            if sequences.dim() != 2:
                raise ValueError(
                    f"PrefixTrie expects a (n, length) tensor of token ids, got {tuple(sequences.shape)}"
                )
            sequences = sequences.tolist()
        self._root: dict = {}
        self._complete: set[tuple[int, ...]] = set()
        self.depth = 0
        for seq in sequences:
            seq = tuple(seq)
            if not seq:
                raise ValueError("PrefixTrie sequences must hold at least one token, got an empty one")
            if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in seq):
                raise ValueError(f"PrefixTrie sequences hold non-negative int token ids, got {seq!r}")
            node = self._root
            for t in seq:
                node = node.setdefault(t, {})
            self._complete.add(seq)
            self.depth = max(self.depth, len(seq))
        if not self._complete:
            raise ValueError("PrefixTrie admits no sequence: give it at least one token sequence")

    def __len__(self) -> int:
        return len(self._complete)

    def __contains__(self, seq) -> bool:
        return tuple(seq) in self._complete

    def _node(self, prefix: Sequence[int]) -> dict | None:
        node = self._root
        for t in prefix:
            node = node.get(int(t))
            if node is None:
                return None
        return node

    def allowed(self, prefix: Sequence[int]) -> list[int]:
        """Tokens that continue ``prefix`` inside the trie (empty when ``prefix`` left it)."""
        node = self._node(prefix)
        return [] if node is None else sorted(node)

    def complete(self, prefix: Sequence[int]) -> bool:
        """Whether ``prefix`` is one of the trie's sequences."""
        return tuple(int(t) for t in prefix) in self._complete

    def sequences(self) -> list[tuple[int, ...]]:
        return sorted(self._complete)

    @classmethod
    def coerce(cls, trie) -> PrefixTrie:
        """A :class:`PrefixTrie` from one, from token sequences (list of lists or an ``(n, L)`` tensor),
        or from another nested-dict trie with a ``root`` dict (such as ``seqlab.tokenize``'s semantic-ID
        trie, whose leaves are its complete sequences)."""
        if isinstance(trie, cls):
            return trie
        root = getattr(trie, "root", None)
        if isinstance(root, dict):
            return cls(_leaves(root, ()))
        if isinstance(trie, torch.Tensor) or (isinstance(trie, (list, tuple)) and not isinstance(trie, str)):
            return cls(trie)
        raise ValueError(
            f"expected a PrefixTrie, token sequences or a trie with a 'root' dict, got {type(trie).__name__}"
        )


def _leaves(node: dict, prefix: tuple[int, ...]):
    for tok, child in node.items():
        seq = (*prefix, int(tok))
        if child:
            yield from _leaves(child, seq)
        else:
            yield seq
