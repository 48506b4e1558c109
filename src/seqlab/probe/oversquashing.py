"""Representational collapse of the last token (over-squashing).

Paper: Barbero, Banino, Kapturowski, Kumaran, Araujo, Vitvitskyi, Pascanu, Velickovic,
"Transformers need glasses! Information over-squashing in language tasks" (arXiv 2406.04267).
For a causal decoder, the last token's final representation of the sequences ``t^n`` and ``t^(n+1)``
(the same token repeated) converge as ``n`` grows: softmax attention over near-identical keys
averages ever more near-identical values, so the difference shrinks (about as ``1/n`` for the
mean-like part). Once it falls below the resolution of the number format -- bf16 keeps 8 significand
bits -- the two sequences are literally the same vector and no readout can count them apart.

:func:`last_token_collapse` measures, for each ``n``, the distance between the two last-token states
at a layer in float32 and after rounding both to bfloat16 / float16, and whether they became equal.
It takes any model with ``hidden_states(ids)`` (``seqlab.lm`` models such as SmolLM2, and
:class:`~seqlab.models.SequenceModel`).
"""

from __future__ import annotations

import torch

from seqlab.registry import Paper, register

PAPER = Paper("Transformers need glasses! Information over-squashing in language tasks", "2406.04267")


@register("probe", "last_token_collapse", implements=PAPER, used_by=[PAPER.title])
def last_token_collapse(model, token: int, lengths, layer: int = -1, prefix=()) -> list[dict]:
    """For each ``n`` in ``lengths``: ``{"n", "linf", "l2", "rel", "linf_bf16", "equal_bf16",
    "equal_fp16"}`` comparing the last-token state of ``prefix + token * n`` and ``prefix + token * (n+1)``.

    ``rel`` is ``l2 / ||h_n||``; ``*_bf16`` / ``*_fp16`` round both states to that format first.
    Without a ``prefix`` (e.g. a BOS token) a model with relative positions only (RoPE) gives every
    position of ``t^n`` the same input and, attention over identical values returning that value, the
    same state for every ``n``: exact collapse.
    """
    prefix = [int(p) for p in prefix]
    lengths = list(lengths)
    if not lengths or any(not isinstance(n, int) or n < 1 for n in lengths):
        raise ValueError(f"lengths must be positive ints, got {lengths!r}")
    if not isinstance(token, int) or token < 0:
        raise ValueError(f"token must be a non-negative int id, got {token!r}")
    out = []
    with torch.no_grad():
        for n in lengths:
            states = []
            for m in (n, n + 1):
                ids = torch.tensor([prefix + [token] * m], dtype=torch.long)
                hs = model.hidden_states(ids)
                if not -len(hs) <= layer < len(hs):
                    raise ValueError(f"layer {layer} out of range for {len(hs)} hidden states")
                states.append(hs[layer][0, -1].float())
            a, b = states
            diff = a - b
            a16, b16 = a.bfloat16(), b.bfloat16()
            out.append(
                {
                    "n": n,
                    "linf": float(diff.abs().max()),
                    "l2": float(diff.norm()),
                    "rel": float(diff.norm() / a.norm().clamp_min(1e-30)),
                    "linf_bf16": float((a16.float() - b16.float()).abs().max()),
                    "equal_bf16": bool(torch.equal(a16, b16)),
                    "equal_fp16": bool(torch.equal(a.half(), b.half())),
                }
            )
    return out
