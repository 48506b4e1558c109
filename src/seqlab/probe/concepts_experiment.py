"""The hierarchical-orthogonality experiment (arXiv 2406.01506) on SmolLM2's unembedding.

Per seed, a random ``train_fraction`` of each subcategory's words (one-token words of the shipped
hierarchy) estimates the concept vectors in the causal inner product; the rest are held out. Reported:
mean ``|cos(l_parent, l_child - l_parent)|`` over the 12 (category, subcategory) pairs, the same for
a shuffled hierarchy (words dealt at random to the leaves, tree and leaf sizes kept) and for the raw
(unwhitened, centred) unembedding; sibling-difference cosines; the held-out AUC of the subcategory
vectors (the positive control: the vectors must recognise unseen words of their concept).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.concepts import (
    causal_unembedding,
    heldout_auc,
    hierarchy_cosines,
    load_hierarchy,
    shuffle_hierarchy,
    sibling_cosines,
)


def _mean_abs(d: dict[str, float]) -> float:
    return sum(abs(v) for v in d.values()) / len(d)


def split_words(ids, fraction: float, gen: torch.Generator):
    """(train ``{top: {sub: ids}}``, held-out ``{sub: ids}``): a random ``fraction`` of each leaf."""
    train, test = {}, {}
    for top, subs in ids.items():
        train[top] = {}
        for sub, leaf in subs.items():
            order = torch.randperm(len(leaf), generator=gen).tolist()
            k = max(2, int(fraction * len(leaf)))
            train[top][sub] = [leaf[i] for i in order[:k]]
            test[sub] = [leaf[i] for i in order[k:]]
    return train, test


def concept_geometry_of(gamma: torch.Tensor, ids, fraction: float, seed: int) -> dict:
    """The measurements of the module docstring from an unembedding ``gamma (V, d)`` and word ids."""
    gen = torch.Generator().manual_seed(seed)
    g, _, _ = causal_unembedding(gamma)
    train, test = split_words(ids, fraction, gen)
    shuffled = shuffle_hierarchy(train, gen)
    raw = gamma.double() - gamma.double().mean(0)
    flat = {sub: leaf for subs in train.values() for sub, leaf in subs.items()}
    return {
        "abs_cos": _mean_abs(hierarchy_cosines(g, train)),
        "shuffled_abs_cos": _mean_abs(hierarchy_cosines(g, shuffled)),
        "raw_abs_cos": _mean_abs(hierarchy_cosines(raw, train)),
        "sibling_abs_cos": _mean_abs(sibling_cosines(g, train)),
        "shuffled_sibling_abs_cos": _mean_abs(sibling_cosines(g, shuffled)),
        "heldout_auc": heldout_auc(g, flat, test),
        "words": sum(len(v) for v in flat.values()),
    }


@experiment("probe.concept_geometry")
def concept_geometry(params: dict, seed: int) -> dict:
    from seqlab.lm import load

    lm = load(params.get("model", "smollm2-135m"))
    tok = lm.tokenizer
    words = load_hierarchy(tok)
    ids = {
        top: {sub: [tok.encode(" " + w, add_special_tokens=False)[0] for w in ws] for sub, ws in subs.items()}
        for top, subs in words.items()
    }
    gamma = lm.model.get_output_embeddings().weight.detach()
    return concept_geometry_of(gamma, ids, params.get("train_fraction", 0.8), seed)
