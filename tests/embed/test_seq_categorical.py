"""Categorical representation learning: the generated category, composition as matrix products, the
composition check, and learning unseen composites."""

import random

import pytest
import torch

from seqlab import registry
from seqlab.embed.categorical import CategoricalEmbedding, composition_error, typed_category


def test_compose_is_function_composition_in_chain_order():
    cat = typed_category(n_types=4, per_type=6, per_step=2, seed=3)
    for chain in cat.chains:
        maps = [dict(enumerate(cat.morphisms[n][2])) for n in chain]
        for i in range(6):
            y = i
            for m in maps:  # f_1 first
                y = m[y]
            assert cat.compose(chain)[i] == y
    src, dst = cat.endpoints(("f0a", "f1b", "f2a"))
    assert (src, dst) == (0, 3)
    assert cat.pairs(("f0a",))[0] == (0, 6 + cat.morphisms["f0a"][2][0])
    with pytest.raises(ValueError, match="starts at type 0"):
        cat.endpoints(("f0a", "f0b"))


def test_the_chains_are_every_path_of_length_two_and_three():
    cat = typed_category(n_types=4, per_type=5, per_step=2, max_len=3, seed=0)
    assert len(cat.chains) == 2 * 2 * 2 + 1 * 2**3
    assert len(set(cat.chains)) == len(cat.chains)
    with pytest.raises(ValueError, match="n_types"):
        typed_category(n_types=2)


def test_function_matrices_form_a_functor_and_the_check_sees_a_broken_one():
    # one-hot objects and 0/1 matrices of the functions: M_{g o f} = M_g M_f exactly
    cat = typed_category(n_types=3, per_type=4, per_step=1, max_len=2, seed=1)
    n = 12

    def mat(chain):
        m = torch.zeros(n, n)
        for x, y in cat.pairs(chain):
            m[y, x] = 1.0
        return m

    f, g = ("f0a",), ("f1a",)
    assert composition_error(mat(f + g), mat(g), mat(f)) == pytest.approx(0.0)
    assert composition_error(mat(f + g), mat(f), mat(g)) > 0.5  # the wrong order is not the composite
    with pytest.raises(ValueError, match="d x d"):
        composition_error(torch.eye(3), torch.eye(3), torch.eye(4))


def test_model_matrices_multiply_in_composition_order_and_logits_match_a_loop():
    cat = typed_category(n_types=4, per_type=5, seed=0)
    m = CategoricalEmbedding(cat, d=6, seed=0)
    with torch.no_grad():
        a, b, c = (m.mats[m.names.index(k)] for k in ("f0a", "f1b", "f2a"))
        assert torch.allclose(m.matrix(("f0a", "f1b", "f2a")), c @ b @ a)
        x = torch.tensor([0, 3])
        logits = m.logits(("f0a", "f1b"), x)
        for r, xi in enumerate(x.tolist()):
            q = b @ (a @ m.objects[xi])
            for j, y in enumerate(cat.types[2]):
                assert logits[r, j] == pytest.approx(float(m.objects[y] @ q), abs=1e-5)
    free = CategoricalEmbedding(cat, d=6, compositional=False, seed=0)
    assert torch.equal(free.matrix(("f0a", "f1b")), free.free[free.free_chains.index(("f0a", "f1b"))])
    with pytest.raises(KeyError, match="unknown morphism"):
        m.matrix(("nope",))
    with pytest.raises(ValueError, match="at least one"):
        m.fit({("f0a",): []})


def test_products_predict_unseen_composites_that_free_matrices_miss():
    cat = typed_category(n_types=3, per_type=6, per_step=2, max_len=2, seed=0)
    rng = random.Random(0)
    train = {(n,): cat.pairs((n,)) for n in cat.morphisms}
    test = {}
    for chain in cat.chains:
        p = cat.pairs(chain)
        rng.shuffle(p)
        train[chain], test[chain] = p[:1], p[1:]
    hits = {}
    for comp in (True, False):
        m = CategoricalEmbedding(cat, d=8, compositional=comp, seed=0)
        m.fit(train, steps=300, lr=0.03)
        assert all(m.hits_at_1((n,), cat.pairs((n,))) == 1.0 for n in cat.morphisms)
        hits[comp] = sum(m.hits_at_1(c, test[c]) for c in cat.chains) / len(cat.chains)
    assert hits[True] > 0.6 and hits[True] > hits[False] + 0.25, hits


def test_registered_with_its_paper():
    assert registry.get("embedder", "categorical").implements[0].arxiv == "2103.14770"
