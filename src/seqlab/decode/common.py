"""Argument checks and the token-by-token loop shared by seqlab's decoders."""

from __future__ import annotations

from collections.abc import Callable

import torch

from seqlab.lm.interface import check_ids


def check_lm(lm, method: str) -> None:
    missing = [m for m in ("prefill", "step", "reorder_state") if not callable(getattr(lm, m, None))]
    if missing:
        raise ValueError(
            f"{method} decoding needs a model with prefill/step/reorder_state (seqlab.lm.LanguageModel); "
            f"{type(lm).__name__} lacks {', '.join(missing)}"
        )
    if not getattr(lm, "is_causal", False):
        name = getattr(lm, "name", type(lm).__name__)
        raise ValueError(
            f"{method} decoding needs a causal language model; {name} is not causal (an encoder)"
        )


def check_common(lm, input_ids, attention_mask, max_new_tokens, method: str):
    """Validated ``(mask, eos)``: ids/mask shapes, ``max_new_tokens >= 1``, the context length."""
    check_lm(lm, method)
    mask = check_ids(input_ids, attention_mask, vocab_size=getattr(lm, "vocab_size", None), name=method)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    ctx = getattr(lm, "context_length", None)
    total = input_ids.shape[1] + max_new_tokens
    if ctx is not None and total > ctx:
        raise ValueError(
            f"prompt of {input_ids.shape[1]} tokens + max_new_tokens={max_new_tokens} = {total} exceeds the "
            f"model's context of {ctx} tokens"
        )
    return mask


def special_ids(lm, eos_token_id, pad_token_id) -> tuple[int | None, int]:
    """``eos`` (None: never stops early) and the id written after a row has finished."""
    eos = getattr(lm, "eos_token_id", None) if eos_token_id == "default" else eos_token_id
    pad = getattr(lm, "pad_token_id", None) if pad_token_id == "default" else pad_token_id
    if pad is None:
        pad = eos if eos is not None else 0
    return eos, int(pad)


def token_loop(
    lm, input_ids, mask, max_new_tokens: int, eos, pad, choose: Callable[[torch.Tensor], torch.Tensor]
):
    """Append one token per row per step (``choose(float32 logits (B, V)) -> (B,)``) until every row
    has produced ``eos`` or ``max_new_tokens`` are out; finished rows are filled with ``pad``."""
    with torch.no_grad():
        logits, state = lm.prefill(input_ids, mask)
        out = input_ids
        running = torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for i in range(max_new_tokens):
            nxt = choose(logits.float())
            if eos is not None:
                nxt = torch.where(running, nxt, torch.full_like(nxt, pad))
                running = running & (nxt != eos)
            out = torch.cat([out, nxt[:, None].to(out.dtype)], dim=1)
            if not bool(running.any()) or i == max_new_tokens - 1:
                break
            logits, state = lm.step(nxt, state)
    return out
