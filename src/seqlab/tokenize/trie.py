"""The prefix trie of token sequences: seqlab's one implementation.

A :class:`PrefixTrie` holds a set of integer token sequences (for example the semantic IDs of a
catalogue from the ``semantic-ids`` tokenizer, one row per item) and answers, for any prefix, which
tokens extend it towards at least one of them (:meth:`PrefixTrie.allowed`, alias
:meth:`PrefixTrie.next_tokens`) and whether the prefix is itself one of them
(:meth:`PrefixTrie.complete`). Constrained decoding (``seqlab.decode``'s ``constrained_beam``,
generative retrieval as in "Autoregressive Entity Retrieval", arXiv 2010.00904) masks every token
the trie does not allow, so that every beam is a valid item.

It lives here, in ``seqlab.tokenize`` (where semantic IDs are made), and ``seqlab.decode`` imports it
(``seqlab.decode.PrefixTrie`` is this class).

Storage: nested dicts, ``root[t_1][t_2]...`` (a node's keys are the tokens that may follow), plus the
set of complete sequences (a sequence may be a prefix of another one).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

import torch


def _token(t, seq) -> int:
    if isinstance(t, bool):
        raise ValueError(f"PrefixTrie sequences hold non-negative int token ids, got {seq!r}")
    try:
        t = operator.index(t)
    except TypeError:
        raise ValueError(f"PrefixTrie sequences hold non-negative int token ids, got {seq!r}") from None
    if t < 0:
        raise ValueError(f"PrefixTrie sequences hold non-negative int token ids, got {seq!r}")
    return t


class PrefixTrie:
    """Trie of integer token sequences (each at least one token long; at least one sequence)."""

    def __init__(self, sequences: Iterable[Sequence[int]] | torch.Tensor):
        if isinstance(sequences, torch.Tensor):
            if sequences.dim() != 2:
                raise ValueError(
                    f"PrefixTrie expects a (n, length) tensor of token ids, got {tuple(sequences.shape)}"
                )
            sequences = sequences.tolist()
        self.root: dict = {}
        self._complete: set[tuple[int, ...]] = set()
        self.depth = 0
        for seq in sequences:
            if isinstance(seq, torch.Tensor):
                seq = seq.tolist()
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Iterable):
                raise ValueError(f"PrefixTrie expects sequences of int token ids, got {seq!r}")
            seq = tuple(seq)
            if not seq:
                raise ValueError("PrefixTrie sequences must hold at least one token, got an empty one")
            seq = tuple(_token(t, seq) for t in seq)
            node = self.root
            for t in seq:
                node = node.setdefault(t, {})
            self._complete.add(seq)
            self.depth = max(self.depth, len(seq))
        if not self._complete:
            raise ValueError("PrefixTrie admits no sequence: give it at least one token sequence")

    def __len__(self) -> int:
        """The number of distinct sequences."""
        return len(self._complete)

    def __contains__(self, seq) -> bool:
        return tuple(int(t) for t in seq) in self._complete

    def __repr__(self) -> str:
        return f"PrefixTrie({len(self)} sequences, depth {self.depth})"

    def _node(self, prefix: Sequence[int]) -> dict | None:
        node = self.root
        for t in prefix:
            node = node.get(int(t))
            if node is None:
                return None
        return node

    def allowed(self, prefix: Sequence[int] = ()) -> list[int]:
        """Sorted tokens that continue ``prefix`` inside the trie (``[]`` when it left the trie or
        nothing follows it)."""
        node = self._node(prefix)
        return [] if node is None else sorted(node)

    next_tokens = allowed

    def is_prefix(self, prefix: Sequence[int]) -> bool:
        """Whether ``prefix`` (possibly empty or complete) starts at least one sequence."""
        return self._node(prefix) is not None

    def complete(self, prefix: Sequence[int]) -> bool:
        """Whether ``prefix`` is one of the trie's sequences."""
        return tuple(int(t) for t in prefix) in self._complete

    def allowed_mask(self, prefix: Sequence[int], vocab_size: int) -> torch.Tensor:
        """Bool ``(vocab_size,)`` mask of :meth:`allowed` (tokens >= ``vocab_size`` are an error)."""
        allowed = self.allowed(prefix)
        if allowed and allowed[-1] >= vocab_size:
            raise ValueError(f"the trie allows token {allowed[-1]}, outside a vocabulary of {vocab_size}")
        mask = torch.zeros(vocab_size, dtype=torch.bool)
        mask[allowed] = True
        return mask

    def sequences(self) -> list[tuple[int, ...]]:
        """Every sequence, sorted."""
        return sorted(self._complete)

    @classmethod
    def coerce(cls, trie) -> PrefixTrie:
        """A :class:`PrefixTrie` from one, or from token sequences (list of lists or an ``(n, L)``
        tensor)."""
        if isinstance(trie, cls):
            return trie
        if isinstance(trie, torch.Tensor) or (isinstance(trie, (list, tuple)) and not isinstance(trie, str)):
            return cls(trie)
        raise ValueError(f"expected a PrefixTrie or token sequences, got {type(trie).__name__}")
