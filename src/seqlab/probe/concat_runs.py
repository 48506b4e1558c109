"""Concatenated representations of independently seeded runs, probed under a task/distribution shift.

Paper: Zhang, Bottou, "Learning useful representations for shifting tasks and distributions"
(arXiv 2212.07346). One optimisation run learns the features that suffice for its training task, and
which of several redundant features it picks depends on its seed; concatenating the representations
``phi(x) = [phi_1(x), ..., phi_K(x)]`` of ``K`` independently seeded runs keeps more of them, so a linear
probe on ``phi`` transfers better when the task or the distribution shifts than a probe on one run, and
than one wider run with the same representation size (``K`` times the width).

- :func:`sequence_features`: the representation of a :class:`seqlab.models.SequenceModel` (its final
  normalised state at the last position);
- :func:`concat_features`: the concatenation over runs;
- :func:`redundant_bigrams`: a task with two redundant cues (seqlab's stand-in for the paper's shifted
  image/text tasks): token ``a`` present (easy) and the ordered bigram ``(b1, b2)`` present (both tokens
  also occur alone). In the source distribution both cues equal the label; after the shift they are
  independent, and the target tasks are each cue on its own.
"""

from __future__ import annotations

import torch

from seqlab.registry import Paper, register

PAPER = Paper("Learning useful representations for shifting tasks and distributions", "2212.07346")
EASY, FIRST, SECOND = 1, 2, 3  # cue tokens: EASY present; FIRST followed by SECOND


def redundant_bigrams(n: int, length: int, vocab: int, gen: torch.Generator, correlated: bool):
    """``(x (n, length), easy (n,), bigram (n,))``: background tokens from ``{4, ..., vocab - 1}`` and the
    two cue tokens ``FIRST``/``SECOND`` scattered alone (never ``FIRST`` right before ``SECOND``), the
    cues planted at random places. ``correlated``: one coin sets both cues; else two independent coins."""
    if vocab < 6 or length < 6:
        raise ValueError(f"redundant_bigrams needs vocab >= 6 and length >= 6, got {vocab}, {length}")
    x = torch.randint(4, vocab, (n, length), generator=gen)
    lone = torch.rand(n, length, generator=gen) < 0.15
    x = torch.where(lone, torch.randint(FIRST, SECOND + 1, (n, length), generator=gen), x)
    # break accidental FIRST SECOND pairs: the SECOND becomes background
    accidental = (x[:, :-1] == FIRST) & (x[:, 1:] == SECOND)
    x[:, 1:][accidental] = 4
    easy = torch.randint(0, 2, (n,), generator=gen)
    bigram = easy.clone() if correlated else torch.randint(0, 2, (n,), generator=gen)
    for i in range(n):
        slots = torch.randperm(length - 1, generator=gen)
        if bigram[i]:
            p = int(slots[0])
            x[i, p], x[i, p + 1] = FIRST, SECOND
        if easy[i]:
            q = next(int(s) for s in slots[1:] if bigram[i] == 0 or int(s) not in (p, p + 1))
            x[i, q] = EASY
    return x, easy, bigram


def sequence_features(model, x: torch.Tensor) -> torch.Tensor:
    """The final normalised state at the last position ``(B, d_model)`` of a SequenceModel on ``x``."""
    if not callable(getattr(model, "features", None)):
        raise ValueError(f"expected a seqlab SequenceModel (with features()), got {type(model).__name__}")
    with torch.no_grad():
        return model.features(x)[:, -1].detach()


@register("probe", "concatenated_runs", implements=PAPER, used_by=[PAPER.title])
def concat_features(models, x: torch.Tensor) -> torch.Tensor:
    """``[phi_1(x), ..., phi_K(x)]``: the concatenated representations ``(B, sum d_k)`` of ``models``."""
    if not models:
        raise ValueError("concat_features needs at least one model")
    return torch.cat([sequence_features(m, x) for m in models], 1)
