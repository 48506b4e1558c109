"""Frozen ``transformers`` models behind :class:`seqlab.lm.interface.LanguageModel`.

:class:`HFCausalLM` wraps a decoder-only model (LLaMA family: SmolLM2) with its tokenizer; the
incremental state is the model's KV cache (``DynamicCache``) plus the attention mask and the last
position ids, computed the way ``transformers.generate`` computes them (positions = cumulative sum
of the mask - 1), so seqlab's decoders see the very logits ``generate`` sees. Prompts are padded on
the left. :class:`HFEncoder` wraps a bidirectional encoder (BERT: MiniLM), padded on the right; it
has no LM head, so logits and generation raise a clear error.
"""

from __future__ import annotations

from typing import Any

import torch

from seqlab.lm.interface import Encoded, LMOutput, check_embeds, check_ids


class _HFBase:
    padding_side = "right"
    is_causal = False

    def __init__(self, name: str, model, tokenizer):
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.name, self.model, self.tokenizer = name, model, tokenizer
        cfg = model.config
        self.d_model = int(cfg.hidden_size)
        self.n_layers = int(cfg.num_hidden_layers)
        self.vocab_size = int(cfg.vocab_size)
        self.context_length = int(getattr(cfg, "max_position_embeddings", 0)) or None
        tokenizer.padding_side = self.padding_side
        self.pad_token_id = tokenizer.pad_token_id
        self.eos_token_id = None

    def __repr__(self) -> str:
        kind = type(self).__name__
        return f"{kind}({self.name!r}, layers={self.n_layers}, d={self.d_model}, V={self.vocab_size})"

    # -- text <-> ids ---------------------------------------------------------------------
    def encode(self, texts: list[str]) -> Encoded:
        """Token ids and mask for a list of strings, padded on :attr:`padding_side`."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts) or not texts:
            raise ValueError(f"{self.name}.encode expects a non-empty list of strings, got {texts!r}")
        out = self.tokenizer(list(texts), return_tensors="pt", padding=True)
        return Encoded(out["input_ids"].long(), out["attention_mask"].long())

    def decode(self, ids: torch.Tensor) -> list[str]:
        """Strings for ``(B, T)`` ids (special tokens, padding included, are dropped)."""
        if isinstance(ids, torch.Tensor) and ids.dim() == 1:
            ids = ids[None]
        check_ids(ids, name=f"{self.name}.decode")
        return self.tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)

    # -- whole-sequence forward ---------------------------------------------------------
    def _check(self, ids, mask):
        mask = check_ids(ids, mask, vocab_size=self.vocab_size, name=self.name)
        if self.context_length is not None and ids.shape[1] > self.context_length:
            raise ValueError(
                f"{self.name} has a context of {self.context_length} tokens, got a sequence of {ids.shape[1]}"
            )
        return mask

    def input_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        """The token embeddings ``(B, T, d)`` (the vectors :meth:`forward_embeds` takes)."""
        check_ids(ids, vocab_size=self.vocab_size, name=self.name)
        return self.model.get_input_embeddings()(ids)

    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        mask = self._check(ids, mask)
        return tuple(self._run(input_ids=ids, attention_mask=mask).hidden_states)

    def forward_embeds(self, embeds: torch.Tensor, mask: torch.Tensor | None = None) -> LMOutput:
        """Run from continuous input vectors (token-embedding space; gradients flow to ``embeds``)."""
        mask = check_embeds(embeds, self.d_model, mask, name=self.name)
        if self.context_length is not None and embeds.shape[1] > self.context_length:
            raise ValueError(
                f"{self.name} has a context of {self.context_length} tokens, got {embeds.shape[1]} embeddings"
            )
        out = self._run(inputs_embeds=embeds, attention_mask=mask)
        return LMOutput(getattr(out, "logits", None) if self.is_causal else None, tuple(out.hidden_states))

    def _run(self, **kw):
        return self.model(**kw, output_hidden_states=True, return_dict=True)

    # -- causal-only members (encoders refuse) ----------------------------------------
    def _refuse(self, what: str):
        raise ValueError(
            f"{self.name} is an encoder without an LM head: it has encode/decode/hidden_states/"
            f"input_embeddings/forward_embeds, not {what}; use a causal model such as 'smollm2-135m'"
        )

    def logits(self, ids, mask=None):
        self._refuse("logits")

    def prefill(self, ids, mask=None):
        self._refuse("generation (prefill)")

    def step(self, tokens, state):
        self._refuse("generation (step)")

    def reorder_state(self, state, index):
        self._refuse("generation (reorder_state)")


class HFEncoder(_HFBase):
    """A bidirectional ``transformers`` encoder (right padding, no LM head)."""


class HFCausalLM(_HFBase):
    """A decoder-only ``transformers`` model with KV-cache incremental decoding (left padding)."""

    padding_side = "left"
    is_causal = True

    def __init__(self, name: str, model, tokenizer):
        super().__init__(name, model, tokenizer)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_token_id = int(eos[0] if isinstance(eos, (list, tuple)) else eos)
        if self.pad_token_id is None:
            self.pad_token_id = self.eos_token_id

    def logits(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits at every position ``(B, T, V)``."""
        mask = self._check(ids, mask)
        with torch.no_grad():
            return self.model(input_ids=ids, attention_mask=mask, position_ids=_positions(ids, mask)).logits

    def _run(self, **kw):
        mask = kw.get("attention_mask")
        if mask is not None:
            kw["position_ids"] = _positions(mask, mask)
        return self.model(**kw, output_hidden_states=True, return_dict=True)

    # -- incremental decoding ----------------------------------------------------------
    def prefill(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]:
        """Run the prompt, returning float32 next-token logits ``(B, V)`` and the decoding state."""
        from transformers import DynamicCache

        mask = self._check(ids, mask)
        if mask is not None and bool((mask[:, -1] == 0).any()):
            raise ValueError(
                f"{self.name} decodes left-padded prompts (every row's last column a token); "
                "got right padding: encode() pads on the left"
            )
        pos = _positions(ids, mask)
        if mask is not None and bool((mask == 1).all()):
            mask = None  # as generate does: no padding, no mask (same attention path)
        cache = DynamicCache(config=self.model.config)
        with torch.no_grad():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        state = {"cache": cache, "mask": mask, "pos": pos[:, -1:], "length": ids.shape[1]}
        return out.logits[:, -1, :].to(dtype=torch.float32, copy=True), state

    def step(self, tokens: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Append ``tokens`` (B,) to every row; float32 next-token logits ``(B, V)``."""
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 1:
            raise ValueError(f"{self.name}.step expects tokens of shape (batch,), got {tokens!r}")
        if self.context_length is not None and state["length"] + 1 > self.context_length:
            raise ValueError(
                f"{self.name} has a context of {self.context_length} tokens; the sequence is full"
            )
        mask = state["mask"]
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        pos = state["pos"] + 1
        with torch.no_grad():
            out = self.model(
                input_ids=tokens[:, None],
                attention_mask=mask,
                position_ids=pos,
                cache=state["cache"],
                use_cache=True,
                logits_to_keep=1,
            )
        new = {"cache": state["cache"], "mask": mask, "pos": pos, "length": state["length"] + 1}
        return out.logits[:, -1, :].to(dtype=torch.float32, copy=True), new

    def reorder_state(self, state: dict, index: torch.Tensor) -> dict:
        """Rows ``index`` of the state (the KV cache is reordered in place, as transformers does)."""
        if (
            not isinstance(index, torch.Tensor)
            or index.dim() != 1
            or index.dtype not in (torch.long, torch.int)
        ):
            raise ValueError(f"reorder_state expects a 1-D integer index tensor, got {index!r}")
        state["cache"].reorder_cache(index)
        mask = state["mask"]
        return {
            "cache": state["cache"],
            "mask": None if mask is None else mask.index_select(0, index),
            "pos": state["pos"].index_select(0, index),
            "length": state["length"],
        }


def _positions(ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Position ids as ``transformers.generate`` makes them: ``cumsum(mask) - 1``, 0 on padding."""
    if mask is None:
        return torch.arange(ids.shape[1], device=ids.device).expand(ids.shape[0], -1).contiguous()
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
