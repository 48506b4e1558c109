"""Set tokenization (TokenSet): an unordered multiset of codes <-> a fixed-sum count vector.

Paper: "Tokenize Image as a Set" (TokenSet). A multiset ``S`` of ``n`` codes from a vocabulary of
size ``V`` and its count vector are in bijection::

    counts(S)_v = |{s in S : s = v}|,   sum_v counts_v = n,   counts_v >= 0
    set(c) = sorted sequence with value v repeated c_v times   (canonical order of the multiset)

so a set of tokens becomes a fixed-length (``V``) integer sequence with a fixed sum (``n``).
"""

from __future__ import annotations

import torch

from seqlab.registry import Paper, register

TOKENSET = "Tokenize Image as a Set"


@register(
    "tokenizer", "token-set", implements=Paper(TOKENSET, "2503.16425"), used_by=[TOKENSET],
    family="set tokenizer",
)
class TokenSet:
    """TokenSet bijection: ``(..., n)`` codes (order ignored) <-> ``(..., V)`` counts summing to ``n``."""

    def __init__(self, vocab_size: int, set_size: int):
        if not isinstance(vocab_size, int) or vocab_size < 1 or not isinstance(set_size, int) or set_size < 1:
            raise ValueError(f"need vocab_size >= 1 and set_size >= 1, got {vocab_size!r}, {set_size!r}")
        self.vocab_size, self.set_size = vocab_size, set_size

    def encode(self, codes: torch.Tensor) -> torch.Tensor:
        """Multisets ``(..., n)`` -> count vectors ``(..., V)``."""
        if codes.dtype != torch.long or codes.dim() < 1 or codes.shape[-1] != self.set_size:
            raise ValueError(f"TokenSet.encode expects long codes of shape (..., {self.set_size}), "
                             f"got {codes.dtype} of shape {tuple(codes.shape)}")
        if ((codes < 0) | (codes >= self.vocab_size)).any():
            raise ValueError(f"TokenSet.encode expects codes in [0, {self.vocab_size})")
        counts = torch.zeros(*codes.shape[:-1], self.vocab_size, dtype=torch.long)
        return counts.scatter_add_(-1, codes, torch.ones_like(codes))

    def decode(self, counts: torch.Tensor) -> torch.Tensor:
        """Count vectors ``(..., V)`` with sum ``n`` -> sorted multisets ``(..., n)``."""
        if counts.dtype != torch.long or counts.dim() < 1 or counts.shape[-1] != self.vocab_size:
            raise ValueError(f"TokenSet.decode expects long counts of shape (..., {self.vocab_size}), "
                             f"got {counts.dtype} of shape {tuple(counts.shape)}")
        if (counts < 0).any() or (counts.sum(-1) != self.set_size).any():
            raise ValueError(f"TokenSet.decode expects non-negative counts summing to {self.set_size}, "
                             f"got sums {counts.sum(-1).flatten()[:5].tolist()}")
        flat = counts.reshape(-1, self.vocab_size)
        vocab = torch.arange(self.vocab_size)
        out = torch.stack([torch.repeat_interleave(vocab, row) for row in flat])
        return out.reshape(*counts.shape[:-1], self.set_size)
