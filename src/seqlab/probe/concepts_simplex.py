"""Categorical concepts as simplices (arXiv 2406.01506, the part :mod:`.concepts` leaves out).

Paper: Park, Choe, Jiang, Veitch, "The Geometry of Categorical and Hierarchical Concepts in Large
Language Models" (arXiv 2406.01506): a categorical concept such as ``animal = {mammal, bird, fish,
insect}`` is represented by the polytope whose vertices are the vector representations ``l_w`` of its
values (:func:`seqlab.probe.concepts.concept_vector`, in the causal inner product); with ``k`` values
that polytope is a ``(k-1)``-simplex when the vertices are affinely independent.

- :func:`affine_independence`: ``sigma_min / sigma_max`` of the edge matrix ``[l_2 - l_1, ..., l_k - l_1]``
  (0: the vertices are affinely dependent, no simplex);
- :func:`barycentric`: the coordinates ``lambda`` (``sum lambda = 1``) of the orthogonal projection of
  a point onto the vertices' affine hull, least squares ``p - l_1 = sum_{i>1} lambda_i (l_i - l_1)``;
- :func:`simplex_membership`: held-out words of each value, projected onto their category's simplex:
  the fraction whose largest barycentric coordinate is their own value's vertex (``vertex_accuracy``,
  chance ``1/k``) and the fraction that land inside the simplex (all ``lambda >= 0``).
"""

from __future__ import annotations

import torch

from seqlab.experiments.cell import experiment
from seqlab.probe.concepts import PAPER, concept_vector
from seqlab.registry import register


def _check_vertices(vertices: torch.Tensor) -> None:
    if not isinstance(vertices, torch.Tensor) or vertices.dim() != 2 or vertices.shape[0] < 2:
        raise ValueError(f"expected >= 2 vertices (k, d), got {getattr(vertices, 'shape', vertices)!r}")
    if vertices.shape[0] - 1 > vertices.shape[1]:
        raise ValueError(
            f"{vertices.shape[0]} vertices in dimension {vertices.shape[1]} cannot be affinely independent"
        )


def affine_independence(vertices: torch.Tensor) -> float:
    """``sigma_min / sigma_max`` of the edges ``l_i - l_1`` (``(k, d)`` vertices); 0 when dependent."""
    _check_vertices(vertices)
    s = torch.linalg.svdvals((vertices[1:] - vertices[0]).double())
    return float(s.min() / s.max()) if s.max() > 0 else 0.0


def barycentric(vertices: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Barycentric coordinates ``(n, k)`` of the projections of ``points (n, d)`` onto the affine hull of
    ``vertices (k, d)`` (rows sum to 1)."""
    _check_vertices(vertices)
    if points.dim() != 2 or points.shape[1] != vertices.shape[1]:
        raise ValueError(f"points must be (n, {vertices.shape[1]}), got {tuple(points.shape)}")
    V, P = vertices.double(), points.double()
    edges = (V[1:] - V[0]).T  # (d, k - 1)
    rest = torch.linalg.lstsq(edges, (P - V[0]).T).solution.T  # (n, k - 1)
    return torch.cat([1 - rest.sum(1, keepdim=True), rest], 1)


@register("probe", "categorical_simplex", implements=PAPER, used_by=[PAPER.title])
def simplex_membership(
    g: torch.Tensor, train_ids: dict[str, dict[str, list[int]]], test_ids: dict[str, list[int]]
) -> dict[str, float]:
    """Vertex accuracy, inside fraction and the least affine independence over the categories.

    ``g (V, d)``: token vectors (the causal unembedding); ``train_ids``: ``{category: {value: ids}}``
    estimating the vertices; ``test_ids``: ``{value: held-out ids}``.
    """
    hits = inside = total = 0
    chance, independence = [], []
    for values in train_ids.values():
        names = list(values)
        if len(names) < 2:
            raise ValueError(f"a categorical concept needs >= 2 values, got {names}")
        vertices = torch.stack([concept_vector(g[values[n]]) for n in names])
        independence.append(affine_independence(vertices))
        for i, n in enumerate(names):
            if not test_ids.get(n):
                continue
            lam = barycentric(vertices, g[test_ids[n]])
            hits += int((lam.argmax(1) == i).sum())
            inside += int((lam >= 0).all(1).sum())
            total += lam.shape[0]
            chance.extend([1 / len(names)] * lam.shape[0])
    if total == 0:
        raise ValueError("no held-out words to project")
    return {
        "vertex_accuracy": hits / total,
        "inside_fraction": inside / total,
        "chance": sum(chance) / len(chance),
        "min_affine_independence": min(independence),
    }


def simplex_of(gamma: torch.Tensor, ids, fraction: float, seed: int) -> dict:
    """:func:`simplex_membership` in the causal inner product for the true hierarchy, a shuffled one (words
    dealt at random to the leaves; the held-out words keep their true values) and the raw unembedding, with
    the held-out AUC of the value vectors (:func:`seqlab.probe.concepts.heldout_auc`)."""
    from seqlab.probe.concepts import causal_unembedding, heldout_auc, shuffle_hierarchy
    from seqlab.probe.concepts_experiment import split_words

    gen = torch.Generator().manual_seed(seed)
    g, _, _ = causal_unembedding(gamma)
    train, test = split_words(ids, fraction, gen)
    true = simplex_membership(g, train, test)
    shuffled = simplex_membership(g, shuffle_hierarchy(train, gen), test)
    raw = simplex_membership(gamma.double() - gamma.double().mean(0), train, test)
    out = dict(true)
    out.update({f"shuffled_{k}": v for k, v in shuffled.items() if k != "chance"})
    out.update({f"raw_{k}": v for k, v in raw.items() if k != "chance"})
    out["heldout_words"] = sum(len(v) for v in test.values())
    out["heldout_auc"] = heldout_auc(
        g, {s: leaf for subs in train.values() for s, leaf in subs.items()}, test
    )
    return out


@experiment("probe.categorical_simplex")
def categorical_simplex(params: dict, seed: int) -> dict:
    from seqlab.lm import load
    from seqlab.probe.concepts import load_hierarchy

    lm = load(params.get("model", "smollm2-135m"))
    tok = lm.tokenizer
    ids = {
        top: {sub: [tok.encode(" " + w, add_special_tokens=False)[0] for w in ws] for sub, ws in subs.items()}
        for top, subs in load_hierarchy(tok).items()
    }
    gamma = lm.model.get_output_embeddings().weight.detach()
    return simplex_of(gamma, ids, params.get("train_fraction", 0.8), seed)
