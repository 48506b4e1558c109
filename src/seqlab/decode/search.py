"""Greedy decoding and sampling (temperature, top-k, top-p) over any seqlab language model.

Greedy: ``y_t = argmax_v p(v | y_<t)``. Sampling draws ``y_t ~ softmax(z / T)`` after keeping the
``k`` largest logits (top-k, "Hierarchical Neural Story Generation", arXiv 1805.04833) and then the
smallest set of tokens whose probability mass reaches ``p`` (nucleus / top-p, "The Curious Case of
Neural Text Degeneration", arXiv 1904.09751), from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import torch

from seqlab.decode.common import check_common, special_ids, token_loop
from seqlab.registry import Paper, register


@register("decoder", "greedy", description="argmax token at every step")
def greedy(
    lm,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    max_new_tokens: int = 16,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Greedy decoding: the most probable next token at every step; (B, T + new) LongTensor."""
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "greedy")
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)
    return token_loop(lm, input_ids, mask, max_new_tokens, eos, pad, lambda z: z.argmax(-1))


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
    """Logits ``(B, V)`` / ``temperature``; all but the top-k and the top-p nucleus set to -inf."""
    z = logits / temperature
    if top_k and top_k < z.shape[-1]:
        kth = z.topk(top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    if top_p < 1.0:
        sorted_z, order = z.sort(dim=-1, descending=True)
        probs = sorted_z.softmax(-1)
        before = probs.cumsum(-1) - probs  # mass of the strictly more probable tokens
        drop_sorted = before >= top_p  # the first token is always kept (before = 0 < top_p)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        z = z.masked_fill(drop, float("-inf"))
    return z


def check_sampling(temperature, top_k, top_p, generator) -> None:
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            f"sampling needs an explicit generator=torch.Generator() (seeded) so draws are reproducible, got "
            f"{generator!r}"
        )
    if not isinstance(temperature, (int, float)) or not temperature > 0 or temperature != temperature:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be an int >= 0 (0 = off), got {top_k!r}")
    if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must lie in (0, 1] (1 = off), got {top_p!r}")


@register(
    "decoder",
    "sample",
    implements=Paper("The Curious Case of Neural Text Degeneration", "1904.09751"),
    description="ancestral sampling with temperature, top-k and top-p (nucleus) filtering",
)
def sample(
    lm,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    max_new_tokens: int = 16,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    eos_token_id="default",
    pad_token_id="default",
) -> torch.Tensor:
    """Sample every token from the filtered distribution (see :func:`filter_logits`) with ``generator``."""
    check_sampling(temperature, top_k, top_p, generator)
    mask = check_common(lm, input_ids, attention_mask, max_new_tokens, "sample")
    eos, pad = special_ids(lm, eos_token_id, pad_token_id)

    def choose(z):
        probs = filter_logits(z, temperature, top_k, top_p).softmax(-1)
        dev = generator.device
        return torch.multinomial(probs.to(dev), 1, generator=generator)[:, 0].to(z.device)

    return token_loop(lm, input_ids, mask, max_new_tokens, eos, pad, choose)
