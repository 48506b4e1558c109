"""Pointer decoding ("Pointer Networks", arXiv 1506.03134), registered as a decoder.

The model lives in :mod:`seqlab.models.pointer`; decoding there is greedy over input positions
(``argmax_j u_ij`` at every step, already-chosen positions excluded with ``mask_chosen``). This
decoder returns those positions.
"""

from __future__ import annotations

import torch

from seqlab.registry import Paper, register


@register(
    "decoder",
    "pointer",
    implements=Paper("Pointer Networks", "1506.03134"),
    description="greedy pointer decoding over input positions (seqlab.models.PointerNetwork)",
)
def pointer(model, inputs: torch.Tensor, *, n_out: int | None = None) -> torch.Tensor:
    """Input positions ``(B, n_out)`` a :class:`~seqlab.models.pointer.PointerNetwork` points at, greedily."""
    from seqlab.models.pointer import PointerNetwork

    if not isinstance(model, PointerNetwork):
        raise ValueError(f"pointer decoding needs a seqlab PointerNetwork, got {type(model).__name__}")
    with torch.no_grad():
        return model(inputs, n_out=n_out).argmax(-1)
