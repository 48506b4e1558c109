"""Categorical and hierarchical concepts in a language model's unembedding space.

Paper: Park, Choe, Jiang, Veitch, "The Geometry of Categorical and Hierarchical Concepts in Large
Language Models" (arXiv 2406.01506).

- **Causal inner product**: with the unembedding vectors ``gamma(y)`` of all tokens, their mean
  ``gamma_bar`` and covariance ``Cov(gamma)``, the transformed unembedding
  ``g(y) = Cov(gamma)^{-1/2} (gamma(y) - gamma_bar)`` makes the Euclidean inner product the causal one
  (:func:`causal_unembedding`).
- **Vector of a binary feature** ``w`` (e.g. "is an animal") from the words ``Y(w)`` that have it, an
  LDA-like estimator: ``g~_w = Cov(g_w)^+ E(g_w) / ||Cov(g_w)^+ E(g_w)||`` and
  ``l_w = (g~_w . E(g_w)) g~_w`` (:func:`concept_vector`): the direction along which the words of ``w``
  project to a common value, scaled to that value.
- **Hierarchical orthogonality**: for ``z`` subordinate to ``w`` (mammal within animal),
  ``l_w . (l_z - l_w) = 0`` (:func:`hierarchy_cosines` measures the cosine); **categorical concepts**
  ``{mammal, bird, fish, ...}`` are represented by the simplex of their vectors, whose vertices are
  affinely independent and whose held-out words project highest on their own vertex
  (:func:`heldout_auc` scores the projections).

The hierarchy ships as data written for seqlab (``probe/data/hierarchy.json``: 3 top categories, 12
subcategories, 25 words each), loaded with :func:`load_hierarchy` and kept to the words that are one
token (with a leading space) of the model.
"""

from __future__ import annotations

import json
from importlib import resources

import torch

from seqlab.registry import Paper, register

PAPER = Paper("The Geometry of Categorical and Hierarchical Concepts in Large Language Models", "2406.01506")
Hierarchy = dict[str, dict[str, list[str]]]


def load_hierarchy(tokenizer=None) -> Hierarchy:
    """``{category: {subcategory: [words]}}`` from the shipped data; with a tokenizer, only the words
    that are one token with a leading space (case as written)."""
    text = resources.files("seqlab.probe").joinpath("data/hierarchy.json").read_text()
    raw = {k: v for k, v in json.loads(text).items() if not k.startswith("_")}
    if tokenizer is None:
        return raw
    return {
        top: {
            sub: [w for w in words if len(tokenizer.encode(" " + w, add_special_tokens=False)) == 1]
            for sub, words in subs.items()
        }
        for top, subs in raw.items()
    }


def causal_unembedding(
    gamma: torch.Tensor, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(g, A, gamma_bar)``: ``g = (gamma - gamma_bar) A^T`` with ``A = Cov(gamma)^{-1/2}`` (symmetric).

    ``gamma``: the unembedding matrix ``(V, d)``. In ``g``-space the covariance is the identity.
    """
    if not isinstance(gamma, torch.Tensor) or gamma.dim() != 2 or gamma.shape[0] <= gamma.shape[1]:
        raise ValueError(
            f"expected an unembedding matrix (V, d) with V > d, got {getattr(gamma, 'shape', gamma)}"
        )
    g = gamma.double()
    mean = g.mean(0)
    centred = g - mean
    cov = centred.T @ centred / g.shape[0]
    evals, evecs = torch.linalg.eigh(cov)
    if evals.min() <= eps * evals.max():
        raise ValueError("the unembedding covariance is singular: no causal inner product")
    A = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    return centred @ A, A, mean


def concept_vector(g_words: torch.Tensor, rcond: float = 1e-6) -> torch.Tensor:
    """``l_w = (g~_w . E g_w) g~_w``, ``g~_w`` the normalised ``Cov(g_w)^+ E(g_w)`` (pseudo-inverse)."""
    if g_words.dim() != 2 or g_words.shape[0] < 2:
        raise ValueError(f"a concept needs >= 2 word vectors (n, d), got shape {tuple(g_words.shape)}")
    mean = g_words.mean(0)
    centred = g_words - mean
    cov = centred.T @ centred / g_words.shape[0]
    direction = torch.linalg.pinv(cov, rtol=rcond, hermitian=True) @ mean
    direction = direction / direction.norm()
    return (direction @ mean) * direction


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


@register("probe", "concept_geometry", implements=PAPER, used_by=[PAPER.title])
def hierarchy_cosines(g: torch.Tensor, hierarchy_ids: dict[str, dict[str, list[int]]]) -> dict[str, float]:
    """``cos(l_parent, l_child - l_parent)`` for every (category, subcategory) pair.

    ``g``: the causal unembedding ``(V, d)``; ``hierarchy_ids``: ``{category: {subcategory: token ids}}``
    (a category's words are the union of its subcategories'). Keys are ``"category>subcategory"``.
    """
    out = {}
    for top, subs in hierarchy_ids.items():
        parent = concept_vector(g[[i for ids in subs.values() for i in ids]])
        for sub, ids in subs.items():
            out[f"{top}>{sub}"] = _cos(parent, concept_vector(g[ids]) - parent)
    return out


def sibling_cosines(g: torch.Tensor, hierarchy_ids: dict[str, dict[str, list[int]]]) -> dict[str, float]:
    """``cos(l_parent, l_child1 - l_child2)`` for sibling pairs: differences within a category are
    orthogonal to the category (the simplex of subcategories sits orthogonal to its parent)."""
    out = {}
    for top, subs in hierarchy_ids.items():
        parent = concept_vector(g[[i for ids in subs.values() for i in ids]])
        vecs = {sub: concept_vector(g[ids]) for sub, ids in subs.items()}
        names = sorted(vecs)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                out[f"{top}>{a}-{b}"] = _cos(parent, vecs[a] - vecs[b])
    return out


def heldout_auc(g: torch.Tensor, train_ids: dict[str, list[int]], test_ids: dict[str, list[int]]) -> float:
    """Mean over concepts of the AUC with which ``l_w . g(y)`` ranks held-out words of ``w`` above
    held-out words of the other concepts (0.5: chance)."""
    aucs = []
    for name, ids in train_ids.items():
        vec = concept_vector(g[ids])
        inside = g[test_ids[name]] @ vec
        outside = g[[i for other, t in test_ids.items() if other != name for i in t]] @ vec
        wins = (inside[:, None] > outside[None]).double() + 0.5 * (inside[:, None] == outside[None]).double()
        aucs.append(float(wins.mean()))
    return sum(aucs) / len(aucs)


def shuffle_hierarchy(hierarchy_ids: dict[str, dict[str, list[int]]], gen: torch.Generator):
    """The same tree with the words dealt at random to its leaves (leaf sizes kept)."""
    pool = torch.tensor([i for subs in hierarchy_ids.values() for ids in subs.values() for i in ids])
    pool = pool[torch.randperm(len(pool), generator=gen)].tolist()
    out, k = {}, 0
    for top, subs in hierarchy_ids.items():
        out[top] = {}
        for sub, ids in subs.items():
            out[top][sub] = pool[k : k + len(ids)]
            k += len(ids)
    return out
