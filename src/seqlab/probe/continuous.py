"""Time-continuous transformers: every token lasts a duration, attention integrates over time.

Paper: Marro, Evangelista, Huang, La Malfa, Lombardi, Wooldridge, "Language Models Are Implicitly
Continuous" (arXiv 2504.03933).

A sentence becomes a piecewise-constant function of time: token ``j`` holds on ``[t_j, t_j + d_j)`` with
``t_j = d_0 + ... + d_{j-1}`` (``d_j > 0`` its duration). Causal attention of a query at time ``t``
integrates over the past instead of summing over positions::

    y(t) = int_0^t exp(q(t) . k(s) / sqrt(d_h)) v(s) ds / int_0^t exp(q(t) . k(s) / sqrt(d_h)) ds

With keys and values constant on each interval (their positional encoding taken at the interval's
time stamp ``t_j``) and the model read once per token, over the intervals up to and including its
own, the integrals are sums weighted by the durations::

    y_i = sum_{j <= i} d_j e^{s_ij} v_j / sum_{j <= i} d_j e^{s_ij} = softmax_j(s_ij + log d_j) v_j

so a duration is an additive ``log d_j`` on the attention logits, and RoPE rotates by the real-valued
times ``t_j`` instead of integer positions. Unit durations give ``t_j = j`` and ``log 1 = 0``: the
ordinary forward. Nothing is retrained: the same weights read the continuous input.

- :func:`duration_bias`, :func:`start_times`: the two ingredients;
- :func:`continuous_logits` for a pretrained ``seqlab.lm`` causal model (``transformers`` Llama-style
  models such as SmolLM2: float ``position_ids`` and a 4-D additive mask);
- :func:`continuous_time` for a :class:`seqlab.models.SequenceModel` whose mixers are causal
  :class:`seqlab.mixers.attention.Attention` (RoPE or no positions; sinusoidal input positions are
  evaluated at the real times): a context manager that hooks every attention layer.
"""

from __future__ import annotations

import contextlib

import torch

from seqlab.mixers.attention import Attention, attention_reference
from seqlab.registry import Paper, register

PAPER = Paper("Language Models Are Implicitly Continuous", "2504.03933")


def check_durations(durations, batch: int, length: int) -> torch.Tensor:
    """``durations`` as a float64 ``(batch, length)`` tensor of finite positive values (a ``(length,)``
    tensor is shared by the batch)."""
    if not isinstance(durations, torch.Tensor):
        durations = torch.as_tensor(durations, dtype=torch.float64)
    if durations.dim() == 1:
        durations = durations.expand(batch, -1)
    if durations.dim() != 2 or tuple(durations.shape) != (batch, length):
        raise ValueError(
            f"durations must have shape ({batch}, {length}) or ({length},), got {tuple(durations.shape)}"
        )
    if not torch.isfinite(durations).all() or bool((durations <= 0).any()):
        raise ValueError("durations must be finite and > 0 (a token of duration 0 is a token removed)")
    return durations.double()


def start_times(durations: torch.Tensor) -> torch.Tensor:
    """``t_j = sum_{i < j} d_i``: the time each token starts (``(B, L)``)."""
    return durations.cumsum(-1) - durations


def duration_bias(durations: torch.Tensor) -> torch.Tensor:
    """The additive causal attention bias ``(B, 1, L, L)``: ``log d_j`` for ``j <= i``, ``-inf`` above."""
    L = durations.shape[-1]
    causal = torch.ones(L, L, dtype=torch.bool, device=durations.device).tril()
    bias = durations.log()[:, None, None, :].expand(-1, 1, L, L)
    return bias.masked_fill(~causal, float("-inf"))


# -- pretrained causal LMs (seqlab.lm) -------------------------------------------------------------------
@register("probe", "continuous_time", implements=PAPER, used_by=[PAPER.title])
def continuous_logits(lm, ids: torch.Tensor, durations, embeds: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token logits ``(B, L, V)`` of a ``seqlab.lm`` causal model reading ``ids`` (or the input
    vectors ``embeds (B, L, d)``) with token durations ``(B, L)``: RoPE at the start times, ``log d`` on
    the attention logits."""
    if not getattr(lm, "is_causal", False) or not hasattr(lm, "model"):
        raise ValueError(f"continuous_logits needs a seqlab.lm causal model, got {type(lm).__name__}")
    if embeds is None:
        embeds = lm.input_embeddings(ids)
    if embeds.dim() != 3:
        raise ValueError(f"expected input vectors (B, L, d), got shape {tuple(embeds.shape)}")
    B, L, _ = embeds.shape
    d = check_durations(durations, B, L)
    dtype = embeds.dtype
    mask = duration_bias(d).to(dtype)
    pos = start_times(d).to(torch.float32)
    with torch.no_grad():
        out = lm.model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos, use_cache=False)
    return out.logits


# -- seqlab SequenceModel ----------------------------------------------------------------------------------
def continuous_attention(mixer: Attention, x: torch.Tensor, durations: torch.Tensor) -> torch.Tensor:
    """The causal :class:`Attention` mixer's output ``(B, L, d_model)`` on ``x`` with token durations."""
    if not isinstance(mixer, Attention) or not mixer.causal:
        raise ValueError(f"continuous time needs causal Attention mixers, got {type(mixer).__name__}")
    if mixer.alibi is not None or mixer.urpe is not None or mixer.window is not None:
        raise ValueError("continuous time supports attention with RoPE or no positions, no window/ALiBi/URPE")
    d = check_durations(durations, x.shape[0], x.shape[1]).to(x.device)
    times = start_times(d)
    q, k, v = mixer.project(x, times if mixer.rope is not None else None)  # RoPE at real-valued times
    y = attention_reference(q, k, v, bias=duration_bias(d).to(q.dtype))
    return mixer.out(y.transpose(1, 2).flatten(2))


def _sinusoid(pos_module, times: torch.Tensor) -> torch.Tensor:
    angle = times.to(torch.float64)[..., None] * pos_module.freq
    out = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)[..., : pos_module.d_model]
    return out.to(torch.get_default_dtype())


@contextlib.contextmanager
def continuous_time(model, durations: torch.Tensor):
    """Within the context, ``model(ids)`` of a :class:`SequenceModel` of causal attention layers reads its
    tokens with ``durations (B, L)``: every attention layer (and sinusoidal input positions) is hooked."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not all(isinstance(b.mixer, Attention) for b in blocks):
        names = getattr(model, "mixer_names", type(model).__name__)
        raise ValueError(f"continuous time needs a SequenceModel whose every mixer is attention, got {names}")
    pos = getattr(model, "pos", None)
    if pos is not None and type(pos).__name__ != "Sinusoidal" and getattr(pos, "additive", True):
        raise ValueError(f"continuous time needs sinusoidal or no input positions, got {type(pos).__name__}")
    handles = [
        b.mixer.register_forward_hook(lambda m, args, out: continuous_attention(m, args[0], durations))
        for b in blocks
    ]
    if pos is not None and getattr(pos, "additive", True):
        handles.append(
            pos.register_forward_hook(
                lambda m, args, out: _sinusoid(m, start_times(check_durations(durations, *out.shape[:2])))
            )
        )
    try:
        yield model
    finally:
        for h in handles:
            h.remove()
