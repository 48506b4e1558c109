"""The one interface seqlab's decoders and probes use for a language model.

Implemented by the pretrained models of :func:`seqlab.lm.load` (through ``transformers``) and,
structurally, by :class:`seqlab.models.SequenceModel` (no import: any object with these members
works). Shapes: ``ids`` LongTensor ``(B, T)``, ``mask`` ``(B, T)`` with 1 on real tokens and 0 on
padding, ``d`` the model width, ``V`` the vocabulary.

Hidden states follow ``transformers``: a tuple of ``layers + 1`` tensors ``(B, T, d)``, index 0
the input embeddings, index ``i`` the output of block ``i`` (the last one after the final norm
where the model has one).

Incremental decoding (causal models only)::

    logits, state = lm.prefill(ids, mask)     # logits of the next token (B, V), float32
    logits, state = lm.step(tokens, state)    # tokens (B,): append one token to every row
    state = lm.reorder_state(state, index)    # keep / drop / duplicate rows (beam search)
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch


class Encoded(NamedTuple):
    """Token ids ``(B, T)`` and attention mask ``(B, T)`` (1 = token, 0 = padding)."""

    ids: torch.Tensor
    mask: torch.Tensor


class LMOutput(NamedTuple):
    """What :meth:`LanguageModel.forward_embeds` returns: ``logits`` ``(B, T, V)`` (None for an
    encoder without an LM head) and the ``layers + 1`` hidden states."""

    logits: torch.Tensor | None
    hidden_states: tuple[torch.Tensor, ...]


@runtime_checkable
class LanguageModel(Protocol):
    """Members every seqlab language model has (see the module docstring for shapes)."""

    is_causal: bool
    padding_side: str  # "left" (causal: prompts end at the last column) or "right"
    d_model: int
    n_layers: int
    vocab_size: int
    eos_token_id: int | None
    pad_token_id: int | None
    context_length: int | None

    def encode(self, texts: list[str]) -> Encoded: ...

    def decode(self, ids: torch.Tensor) -> list[str]: ...

    def hidden_states(
        self, ids: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]: ...

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor: ...

    def forward_embeds(self, embeds: torch.Tensor, mask: torch.Tensor | None = None) -> LMOutput: ...

    def logits(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor: ...

    def prefill(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]: ...

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]: ...

    def reorder_state(self, state: Any, index: torch.Tensor) -> Any: ...


def check_ids(ids, mask=None, *, vocab_size: int | None = None, name: str = "model"):
    """Validate ``(B, T)`` integer ids and an optional same-shape 0/1 mask; returns the mask (or None)."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype not in (torch.long, torch.int):
        got = f"{ids.dtype} {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"{name} expects integer token ids of shape (batch, length), got {got}")
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError(f"{name} expects a non-empty batch of non-empty sequences, got {tuple(ids.shape)}")
    if vocab_size is not None and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} expects token ids in [0, {vocab_size}), got {int(ids.min())}..{int(ids.max())}"
        )
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor) or mask.shape != ids.shape:
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} expects an attention mask of the ids' shape {tuple(ids.shape)}, got {got}")
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"{name} expects an attention mask of 0s and 1s")
    if bool((mask.sum(1) == 0).any()):
        raise ValueError(f"{name} expects every row of the attention mask to keep at least one token")
    return mask.long()


def check_embeds(embeds, d_model: int, mask=None, *, name: str = "model"):
    """Validate continuous input vectors ``(B, T, d_model)``: float and finite (NaN/inf -> ValueError)."""
    if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or not embeds.is_floating_point():
        got = (
            f"{embeds.dtype} {tuple(embeds.shape)}"
            if isinstance(embeds, torch.Tensor)
            else type(embeds).__name__
        )
        raise ValueError(
            f"{name} expects float input embeddings of shape (batch, length, {d_model}), got {got}"
        )
    if embeds.shape[-1] != d_model or embeds.shape[0] == 0 or embeds.shape[1] == 0:
        raise ValueError(
            f"{name} expects input embeddings of shape (batch, length, {d_model}), got {tuple(embeds.shape)}"
        )
    if not bool(torch.isfinite(embeds).all()):
        raise ValueError(f"{name} expects finite input embeddings, got NaN or inf")
    if mask is not None:
        check_ids(torch.zeros(embeds.shape[:2], dtype=torch.long), mask, name=name)
        return mask.long()
    return None
