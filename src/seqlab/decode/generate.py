"""``generate``: one entry point to every registered decoder (kind ``"decoder"``)."""

from __future__ import annotations

import torch

from seqlab.registry import get, names

SEQUENCE_METHODS = ("greedy", "sample", "beam", "diverse_beam", "constrained_beam")


def generate(lm, input_ids: torch.Tensor, method: str = "greedy", **kwargs) -> torch.Tensor:
    """Continue ``input_ids`` (B, T) with decoder ``method``; a LongTensor (B, T + new) like
    ``transformers``' ``generate`` (rows that stop early are padded with the pad id).

    ``kwargs`` go to the decoder: ``attention_mask``, ``max_new_tokens``, ``eos_token_id``,
    ``pad_token_id``; sample: ``temperature``, ``top_k``, ``top_p``, ``generator``; beam methods:
    ``num_beams``, ``length_penalty``, ``early_stopping``, ``num_return_sequences``; diverse_beam:
    ``num_groups``, ``diversity_strength``; constrained_beam: ``trie``.
    """
    if method not in SEQUENCE_METHODS:
        valid = [n for n in names("decoder") if n in SEQUENCE_METHODS]
        raise ValueError(f"unknown generation method {method!r}; valid: {', '.join(valid)}")
    return get("decoder", method).obj(lm, input_ids, **kwargs)
