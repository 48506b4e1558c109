"""Attention (key/value) injection of a sentence vector into a frozen ``transformers`` causal LM.

Paper: "Discovering Useful Sentence Representations from Large Pretrained Language Models"
(Subramani, Suresh; arXiv 2008.09049), whose strongest injection for transformers reaches every
layer's attention rather than the input. Here ``v = W z`` is read as ``s`` extra *key/value slots*
in front of the sentence, one set per layer: for layer ``l`` and key/value head ``h``

    K_l[h] = [k_{l,h,1} .. k_{l,h,s}, K_l^{tokens}[h]],   V_l[h] = [v_{l,h,1} .. v_{l,h,s}, V_l^{tokens}[h]]

so every token of every layer attends to the slots as if ``s`` earlier tokens had produced them
(a per-layer KV prefix, as in prefix tuning). The slots have no query: the sentence runs after a
start token ``bos``, at positions ``s, s + 1, ..`` (RoPE), and the output at ``bos`` predicts ``y_1``.

Layout of ``v`` (``(B, s * slot_size)``, ``slot_size = 2 L H D``; ``L`` layers, ``H`` key/value
heads, ``D`` head size): ``v.reshape(B, L, 2, H, s, D)``, index 0 of the third axis the keys
(as stored in the cache, i.e. after the rotary embedding) and 1 the values. :func:`prompt_kv` writes
the cache of a real prompt in the same layout, so a prefix computed from real tokens reproduces
running those tokens (the reference check of the tests).

The ``W`` of :func:`seqlab.decode.recovery.projection` for this injection scales each layer's key
and value rows to the root-mean-square size of that layer's real keys / values
(:func:`kv_scales`, measured on a fixed probe sequence, its first -- attention-sink -- position
left out), so ``z`` with unit-size entries gives slots of the size of real ones.

Works on :class:`seqlab.lm.hf.HFCausalLM` (SmolLM2: 30 layers, 3 key/value heads of 64, so one
slot holds 11,520 numbers; the cache is ``transformers``' ``DynamicCache`` filled from tensors that
carry gradients back to ``z``) and on a :class:`seqlab.models.SequenceModel` whose mixers are all
causal attention (the slots become every block's KV-cache state, run by ``forward_with_state``).
"""

from __future__ import annotations

import math

import torch

PROBE_TOKENS = 64  # length of the probe sequence for the slot scales


def _config(lm):
    return getattr(getattr(lm, "model", None), "config", None)


def _attention_blocks(lm):
    """The blocks of a ``SequenceModel`` whose mixers are all causal attention (else None)."""
    from seqlab.mixers.attention import Attention

    blocks = getattr(lm, "blocks", None)
    if blocks is None or not hasattr(lm, "forward_with_state"):
        return None
    ok = all(isinstance(b.mixer, Attention) and b.mixer.causal for b in blocks)
    return blocks if ok and len(blocks) else None


def backend(lm) -> str:
    """``"hf"`` (a ``transformers`` causal LM behind seqlab.lm) or ``"seq"`` (a ``SequenceModel`` of
    causal attention blocks, through its KV-cache state); anything else is a ValueError."""
    cfg = _config(lm)
    if cfg is not None and getattr(lm, "is_causal", False) and hasattr(cfg, "num_hidden_layers"):
        return "hf"
    if _attention_blocks(lm) is not None:
        return "seq"
    raise ValueError(
        "inject='kv' needs a transformers causal LM with a KV cache (e.g. seqlab.lm.load('smollm2-135m')) "
        f"or a SequenceModel whose mixers are all causal attention, got {type(lm).__name__}"
    )


def kv_layout(lm) -> tuple[int, int, int]:
    """``(layers, key/value heads, head size)`` of the model's attention cache."""
    if backend(lm) == "seq":
        mixers = [b.mixer for b in _attention_blocks(lm)]
        if len({(m.n_heads, m.d_head) for m in mixers}) != 1:
            raise ValueError("inject='kv' needs the same number and size of heads in every attention block")
        return len(mixers), int(mixers[0].n_heads), int(mixers[0].d_head)
    cfg = _config(lm)
    heads = int(cfg.num_attention_heads)
    kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(cfg, "head_dim", None) or int(cfg.hidden_size) // heads)
    return int(cfg.num_hidden_layers), kv_heads, head_dim


def slot_size(lm) -> int:
    """Numbers in one key/value slot over all layers: ``2 L H D``."""
    layers, heads, head_dim = kv_layout(lm)
    return 2 * layers * heads * head_dim


def kv_slots(lm, dim: int) -> int:
    """Slots a ``z`` of size ``dim`` is mapped to: ``ceil(dim / slot_size)`` (1 for SmolLM2 up to 11,520)."""
    return max(1, math.ceil(int(dim) / slot_size(lm)))


def kv_tensors(lm, v: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer ``(keys, values)``, each ``(B, H, s, D)``, of the flat slots ``v`` ``(B, s * slot_size)``."""
    layers, heads, head_dim = kv_layout(lm)
    size = 2 * layers * heads * head_dim
    if not isinstance(v, torch.Tensor) or v.dim() != 2 or v.shape[1] % size or v.shape[1] == 0:
        got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
        raise ValueError(f"kv slots must have shape (batch, s * {size}) for s >= 1, got {got}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError("kv slots must be finite, got NaN or inf")
    x = v.reshape(v.shape[0], layers, 2, heads, v.shape[1] // size, head_dim)
    return [(x[:, i, 0], x[:, i, 1]) for i in range(layers)]


def kv_cache(lm, v: torch.Tensor):
    """A fresh ``DynamicCache`` holding the slots ``v`` (a forward pass grows it in place, so every
    pass needs its own)."""
    from transformers import DynamicCache

    pairs = [(k.contiguous(), val.contiguous()) for k, val in kv_tensors(lm, v)]
    return DynamicCache(pairs, config=_config(lm))


def seq_state(lm, v: torch.Tensor) -> dict:
    """A ``SequenceModel`` state holding the slots ``v`` as every attention block's KV cache
    (positions ``0 .. s-1``, all valid), so the tokens run at positions ``s ..``."""
    pairs = kv_tensors(lm, v)
    b, s = v.shape[0], pairs[0][0].shape[2]
    pos = torch.arange(s, device=v.device).expand(b, s)
    seen = torch.full((b,), s, dtype=torch.long, device=v.device)
    return {"t": s, "layers": [{"k": k, "v": val, "pos": pos, "seen": seen} for k, val in pairs]}


def _embeds(lm, tokens: torch.Tensor) -> torch.Tensor:
    return lm.model.get_input_embeddings()(tokens)


def kv_logits(lm, v: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, t, V)`` of ``tokens`` ``(B, t)`` run after the slots ``v`` (positions ``s ..``);
    gradients flow to ``v``."""
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[1] == 0:
        raise ValueError(f"kv_logits expects token ids (batch, length >= 1), got {tokens!r}")
    if tokens.shape[0] != v.shape[0]:
        raise ValueError(f"kv_logits: {v.shape[0]} rows of slots for {tokens.shape[0]} rows of tokens")
    if backend(lm) == "seq":
        return lm.forward_with_state(tokens, seq_state(lm, v))[0]
    cache = kv_cache(lm, v)
    s = cache.get_seq_length()
    pos = torch.arange(s, s + tokens.shape[1], device=tokens.device).expand(tokens.shape[0], -1)
    out = lm.model(inputs_embeds=_embeds(lm, tokens), position_ids=pos, cache=cache, use_cache=True)
    return out.logits


def start_tokens(bos_token_id, batch: int, device=None) -> torch.Tensor:
    """The start tokens ``(batch, n)`` run after the slots: one id or a non-empty sequence of ids."""
    ids = [bos_token_id] if isinstance(bos_token_id, int) else list(bos_token_id)
    if not ids or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise ValueError(
            f"inject='kv' expects bos_token_id an id or a non-empty list of ids, got {bos_token_id!r}"
        )
    return torch.tensor(ids, dtype=torch.long, device=device).expand(batch, -1)


def kv_teacher_logits(lm, v: torch.Tensor, y: torch.Tensor, bos_token_id) -> torch.Tensor:
    """Teacher-forced logits ``(B, T, V)`` of the sentences ``y`` ``(B, T)`` after the slots ``v`` and
    the start tokens: position ``t`` predicts ``y_t`` (the first from the last start token)."""
    start = start_tokens(bos_token_id, y.shape[0], y.device)
    n = start.shape[1]
    return kv_logits(lm, v, torch.cat([start, y[:, :-1]], 1))[:, n - 1 :]


def kv_greedy(lm, v: torch.Tensor, length: int, bos_token_id) -> torch.Tensor:
    """Greedy decoding of ``length`` tokens ``(B, length)`` after the slots ``v`` and the start
    tokens, incrementally through the cache (a ``SequenceModel`` re-runs the whole suffix)."""
    if backend(lm) == "seq":
        tokens = start_tokens(bos_token_id, v.shape[0], v.device)
        with torch.no_grad():
            for _ in range(length):
                nxt = kv_logits(lm, v, tokens)[:, -1].argmax(-1, keepdim=True)
                tokens = torch.cat([tokens, nxt], 1)
        return tokens[:, -length:] if length else tokens[:, :0]
    cache = kv_cache(lm, v.detach())
    s = cache.get_seq_length()
    tok = start_tokens(bos_token_id, v.shape[0], v.device)
    out = []
    with torch.no_grad():
        for _ in range(length):
            pos = torch.arange(s, s + tok.shape[1], device=v.device).expand(tok.shape[0], -1)
            logits = lm.model(input_ids=tok, position_ids=pos, cache=cache, use_cache=True).logits
            s += tok.shape[1]
            tok = logits[:, -1:].argmax(-1)
            out.append(tok)
    return torch.cat(out, 1)


def prompt_kv(lm, ids: torch.Tensor) -> torch.Tensor:
    """The cache of running ``ids`` ``(B, s)`` as a prompt (positions ``0 .. s-1``), flattened into
    the slot layout ``(B, s * slot_size)``: :func:`kv_logits` of these slots equals the model's
    logits on ``[ids, tokens]`` at the tokens' positions."""
    if backend(lm) == "seq":
        with torch.no_grad():
            _, state = lm.forward_with_state(ids)
        s = ids.shape[1]  # the empty cache's one invalid slot comes first: keep the last s
        parts = [torch.stack([st["k"][:, :, -s:], st["v"][:, :, -s:]], 1) for st in state["layers"]]
        return torch.stack(parts, 1).reshape(ids.shape[0], -1)
    from transformers import DynamicCache

    cache = DynamicCache(config=_config(lm))
    with torch.no_grad():
        lm.model(input_ids=ids, cache=cache, use_cache=True)
    layers, _, _ = kv_layout(lm)
    parts = [torch.stack([cache.layers[i].keys, cache.layers[i].values], 1) for i in range(layers)]
    return torch.stack(parts, 1).reshape(ids.shape[0], -1)  # (B, L, 2, H, s, D) flattened


def kv_scales(lm) -> torch.Tensor:
    """``(L, 2)`` root-mean-square size of each layer's real keys (column 0) and values (1), on a
    probe sequence of evenly spaced token ids (its first position, the attention sink, left out)."""
    layers, heads, head_dim = kv_layout(lm)
    n = min(PROBE_TOKENS, int(lm.vocab_size))
    probe = torch.linspace(0, int(lm.vocab_size) - 1, n).long()[None]
    kv = prompt_kv(lm, probe).reshape(layers, 2, heads, n, head_dim)[:, :, :, 1:]
    return kv.double().pow(2).mean((2, 3, 4)).sqrt()


def row_scales(lm, slots: int) -> torch.Tensor:
    """Per-row scale ``(slots * slot_size,)`` of ``W`` in the slot layout (:func:`kv_scales` repeated)."""
    layers, heads, head_dim = kv_layout(lm)
    return kv_scales(lm)[:, :, None].expand(layers, 2, heads * slots * head_dim).reshape(-1)
