"""Per-layer hidden states of any seqlab language model, and its first ``l`` blocks as a function.

Works on the pretrained models of :func:`seqlab.lm.load` and on :class:`seqlab.models.SequenceModel`
(both implement :class:`seqlab.lm.interface.LanguageModel`). Index 0 is the input embeddings (plus
additive positions for a SequenceModel), index ``i`` the output of block ``i``, the last one after
the final norm -- the convention of ``lm.hidden_states``.

:func:`layer_function` returns ``f(embeds) -> hidden state of layer l`` that runs only the first ``l``
blocks where the model's structure is known (a SequenceModel; a LLaMA-style ``transformers`` model
such as SmolLM2), and falls back to a full ``forward_embeds`` otherwise. SipIt calls it once per
candidate batch, so skipping the blocks above ``l`` is where its speed comes from; the tests check
it against ``lm.hidden_states``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def check_layer(lm, layer: int) -> int:
    """``layer`` as an index in ``[0, n_layers]`` (negative counts from the end); clear error otherwise."""
    n = int(lm.n_layers)
    if isinstance(layer, bool) or not isinstance(layer, int) or not -(n + 1) <= layer <= n:
        raise ValueError(
            f"layer must be an int in [0, {n}] (0 = input embeddings, {n} = last block; "
            f"negative counts from the end), got {layer!r}"
        )
    return layer % (n + 1)


def check_hidden(hidden, d_model: int, name: str = "hidden") -> torch.Tensor:
    """A finite float ``(T, d)`` or ``(B, T, d)`` tensor, returned as ``(B, T, d)``."""
    if not isinstance(hidden, torch.Tensor) or not hidden.is_floating_point() or hidden.dim() not in (2, 3):
        got = f"{hidden.dtype} {tuple(hidden.shape)}" if isinstance(hidden, torch.Tensor) else type(hidden)
        raise ValueError(f"{name} must be float hidden states (T, {d_model}) or (B, T, {d_model}), got {got}")
    if hidden.dim() == 2:
        hidden = hidden[None]
    if hidden.shape[-1] != d_model or hidden.shape[1] == 0 or hidden.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B, T, {d_model}) with T >= 1, got {tuple(hidden.shape)}")
    if not bool(torch.isfinite(hidden).all()):
        raise ValueError(f"{name} holds NaN or inf: non-finite activations cannot be inverted or compared")
    return hidden


@torch.no_grad()
def layer_states(lm, ids: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """``n_layers + 1`` hidden states ``(B, T, d)`` of ``ids`` (eval mode, no gradients)."""
    if hasattr(lm, "eval"):
        lm.eval()
    return tuple(h.float() for h in lm.hidden_states(ids, mask))


def embedding_table(lm) -> torch.Tensor:
    """The ``(V, d)`` input-embedding matrix of ``lm``."""
    hf = getattr(lm, "model", None)
    if hf is not None and hasattr(hf, "get_input_embeddings"):
        return hf.get_input_embeddings().weight.detach().float()
    emb = getattr(lm, "embed", None)
    if isinstance(emb, torch.nn.Embedding):
        return emb.weight.detach().float()
    with torch.no_grad():
        return lm.input_embeddings(torch.arange(lm.vocab_size)[None])[0].float()


def _llama_blocks(lm):
    hf = getattr(lm, "model", None)
    inner = getattr(hf, "model", None)
    if inner is None or not all(hasattr(inner, a) for a in ("layers", "rotary_emb", "norm", "embed_tokens")):
        return None
    return inner


def layer_function(lm, layer: int, *, fast: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f(embeds (B, T, d)) -> (B, T, d)``: the hidden state of ``layer`` from unpadded input embeddings.

    ``fast=False`` always uses ``lm.forward_embeds(...).hidden_states[layer]`` (the reference).
    """
    layer = check_layer(lm, layer)
    if hasattr(lm, "eval"):
        lm.eval()
    n = int(lm.n_layers)
    blocks = getattr(lm, "blocks", None)
    if fast and isinstance(blocks, torch.nn.ModuleList) and hasattr(lm, "norm"):  # SequenceModel

        def seq_fn(embeds: torch.Tensor) -> torch.Tensor:
            x = embeds
            if lm.pos is not None and getattr(lm.pos, "additive", True):
                pos = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
                x = x + lm.pos(pos)
            for block in blocks[:layer]:
                x = block(x, None)
            return lm.norm(x) if layer == n else x

        return seq_fn
    inner = _llama_blocks(lm) if fast else None
    if inner is not None and len(inner.layers) == n:

        def llama_fn(embeds: torch.Tensor) -> torch.Tensor:
            b, t = embeds.shape[:2]
            x = embeds
            pos = torch.arange(t, device=x.device)[None].expand(b, -1)
            pe = inner.rotary_emb(x, position_ids=pos)
            causal = torch.full((t, t), float("-inf"), dtype=x.dtype, device=x.device).triu(1)
            causal = causal[None, None].expand(b, 1, t, t)
            for blk in inner.layers[:layer]:
                out = blk(x, attention_mask=causal, position_embeddings=pe, position_ids=pos)
                x = out[0] if isinstance(out, tuple) else out
            return inner.norm(x) if layer == n else x

        return llama_fn

    def generic_fn(embeds: torch.Tensor) -> torch.Tensor:
        return lm.forward_embeds(embeds).hidden_states[layer]

    return generic_fn


PRETRAINED = ("smollm2-135m", "minilm-l6")


def load_model(spec: str, config: dict | None = None):
    """A pretrained name (``smollm2-135m``, ``minilm-l6``) or a SequenceModel checkpoint.

    A checkpoint is its ``step-*.json`` (or the folder holding it; the latest is taken). The model's
    ``SequenceModel`` keyword arguments come from ``config`` or from the checkpoint's
    ``extra["model"]`` (write them there with ``save_checkpoint(..., extra={"model": cfg})``).
    """
    from pathlib import Path

    if spec in PRETRAINED:
        import seqlab.lm

        return seqlab.lm.load(spec)
    from seqlab.models import SequenceModel
    from seqlab.train.checkpoint import latest_checkpoint, load_checkpoint, read_checkpoint_meta

    path = Path(spec)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"--model {spec}: no checkpoint (step-*.json) in this folder")
        path = found
    if not path.is_file():
        raise ValueError(
            f"--model must be one of {', '.join(PRETRAINED)} or a SequenceModel checkpoint (step-*.json "
            f"or its folder), got {spec!r}"
        )
    cfg = config if config is not None else read_checkpoint_meta(path)["extra"].get("model")
    if not isinstance(cfg, dict):
        raise ValueError(
            f"checkpoint {path} does not record its model: pass the SequenceModel arguments "
            '(--model-config \'{"mixer": "s4d", "d_model": 64, "n_layers": 2, "vocab_size": 16}\') '
            "or save it with extra={'model': cfg}"
        )
    model = SequenceModel(**cfg)
    load_checkpoint(path, model)
    return model.eval()
