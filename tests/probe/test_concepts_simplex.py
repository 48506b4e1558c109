"""Categorical concepts as simplices (arXiv 2406.01506): affine independence and barycentric projections."""

from __future__ import annotations

import pytest
import torch

from seqlab.probe.concepts import concept_vector
from seqlab.probe.concepts_simplex import affine_independence, barycentric, simplex_membership, simplex_of

D = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_barycentric_recovers_known_coordinates_and_ignores_the_orthogonal_part():
    gen = _gen()
    V = torch.randn(4, 10, generator=gen, dtype=D)
    lam = torch.tensor([[0.2, 0.3, 0.1, 0.4], [1.5, -0.2, -0.1, -0.2], [0.0, 0.0, 1.0, 0.0]], dtype=D)
    edges = (V[1:] - V[0]).T
    q, _ = torch.linalg.qr(edges)
    noise = torch.randn(3, 10, generator=gen, dtype=D)
    noise = noise - (noise @ q) @ q.T  # orthogonal to the affine hull's directions
    got = barycentric(V, lam @ V + noise)
    torch.testing.assert_close(got, lam, atol=1e-10, rtol=0)
    torch.testing.assert_close(got.sum(1), torch.ones(3, dtype=D))


def test_affine_independence_is_zero_for_dependent_vertices_and_scale_invariant():
    V = torch.randn(4, 6, generator=_gen(1), dtype=D)
    a = affine_independence(V)
    assert 0 < a <= 1
    assert affine_independence(3 * V + 1) == pytest.approx(a)
    V[3] = 0.5 * V[1] + 0.5 * V[2]  # a point of the edge: the polytope is flat
    assert affine_independence(V) < 1e-10
    # the direct formula: ratio of extreme singular values of the edge matrix
    E = torch.randn(3, 5, generator=_gen(2), dtype=D)
    W = torch.cat([torch.zeros(1, 5, dtype=D), E])
    s = torch.linalg.svdvals(E)
    assert affine_independence(W) == pytest.approx(float(s.min() / s.max()))


def _clusters(k=4, per=30, d=12, spread=0.3, seed=3):
    gen = _gen(seed)
    centres = 3 * torch.randn(k, d, generator=gen, dtype=D)
    g = torch.cat([c + spread * torch.randn(per, d, generator=gen, dtype=D) for c in centres])
    leaves = {f"v{i}": list(range(i * per, (i + 1) * per)) for i in range(k)}
    return g, leaves


def test_clustered_values_project_onto_their_own_vertex():
    g, leaves = _clusters()
    train = {"cat": {n: ids[:20] for n, ids in leaves.items()}}
    test = {n: ids[20:] for n, ids in leaves.items()}
    r = simplex_membership(g, train, test)
    # the LDA vertices are not the cluster centres, yet tight clusters land at their own vertex
    assert r["vertex_accuracy"] >= 0.9 and r["chance"] == 0.25 and r["min_affine_independence"] > 0.05
    # the plain loop: project each held-out word, argmax of its coordinates
    verts = torch.stack([concept_vector(g[train["cat"][n]]) for n in leaves])
    hits = sum(int(barycentric(verts, g[[i]]).argmax()) == j for j, n in enumerate(leaves) for i in test[n])
    assert hits == round(40 * r["vertex_accuracy"])
    # words dealt at random to the values: about chance
    perm = torch.randperm(120, generator=_gen(4)).tolist()
    shuffled = {"cat": {n: [perm[i] for i in ids[:20]] for n, ids in leaves.items()}}
    assert simplex_membership(g, shuffled, test)["vertex_accuracy"] < 0.6


def test_simplex_of_reports_true_shuffled_and_raw_measures():
    g, leaves = _clusters(k=4, per=30, d=12)
    g = torch.cat([g, torch.randn(200, 12, generator=_gen(5), dtype=D)])  # the rest of a vocabulary
    ids = {"a": {n: ids[:15] for n, ids in list(leaves.items())[:2]}, "b": dict(list(leaves.items())[2:])}
    r = simplex_of(g.float(), ids, 0.8, seed=0)
    assert r["vertex_accuracy"] > r["shuffled_vertex_accuracy"] and r["heldout_auc"] > 0.9
    assert {"raw_vertex_accuracy", "inside_fraction", "heldout_words"} <= set(r)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"expected >= 2 vertices"):
        affine_independence(torch.randn(1, 4))
    with pytest.raises(ValueError, match="cannot be affinely independent"):
        affine_independence(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"points must be \(n, 4\)"):
        barycentric(torch.randn(3, 4), torch.randn(2, 5))
    g, leaves = _clusters()
    with pytest.raises(ValueError, match=">= 2 values"):
        simplex_membership(g, {"c": {"v0": leaves["v0"]}}, {"v0": [1]})
    with pytest.raises(ValueError, match="no held-out words"):
        simplex_membership(g, {"c": leaves}, {})
