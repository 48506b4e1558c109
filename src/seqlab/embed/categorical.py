"""Categorical representation learning: objects as vectors, morphisms as matrices, composition as products.

"Categorical Representation Learning: Morphism is All You Need" (Sheshmani, You; arXiv 2103.14770). An
encoder maps every object ``x`` to a vector ``E(x)`` in R^d and every morphism ``f: A -> B`` to a matrix
``M_f`` in R^{d x d} so that

    E(f(x)) ~ M_f E(x)        and        M_{g o f} = M_g M_f        (a functor into matrices)

Scoring (:class:`CategoricalEmbedding`): the image of ``x`` under a chain ``f_1, .., f_n`` (applied in that
order) is ``q = M_{f_n} ... M_{f_1} E(x)``; the logits over the objects of the codomain are ``E(y) . q``,
trained by cross-entropy on observed pairs ``(x, f(x))``. A composite morphism never gets its own
parameters -- it *is* the product of its generators' matrices, so composites are predicted without having
been seen. The non-compositional baseline (``compositional=False``) gives each composite chain a free
matrix of its own, trained only on the composite pairs that were observed.

:func:`typed_category` generates a category: types ``T_0 .. T_{n-1}`` of ``per_type`` objects, generating
morphisms ``T_t -> T_{t+1}`` (random functions, ``per_step`` of them per step) and every composite chain
of length 2..``max_len``, with :meth:`Category.compose` (function composition, the law the embedding must
respect). :func:`composition_error` is the check ``||M_{gf} - M_g M_f||_F / ||M_{gf}||_F``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

import torch
from torch import nn

from seqlab.registry import Paper, register

CATEGORICAL_PAPER = Paper("Categorical Representation Learning: Morphism is All You Need", "2103.14770")

__all__ = ["Category", "CategoricalEmbedding", "composition_error", "typed_category"]


@dataclass
class Category:
    """Typed objects ``0..n-1`` (``types[t]`` lists type ``t``'s objects) and generating morphisms
    ``name -> (source type, target type, map)`` where ``map[i]`` is the image of the source's ``i``-th
    object as an index into the target type."""

    types: list[list[int]]
    morphisms: dict[str, tuple[int, int, list[int]]]
    chains: list[tuple[str, ...]] = field(default_factory=list)

    def endpoints(self, chain) -> tuple[int, int]:
        """``(source type, target type)`` of a chain of generators applied left to right."""
        src = self.morphisms[chain[0]][0]
        t = src
        for name in chain:
            a, b, _ = self.morphisms[name]
            if a != t:
                raise ValueError(
                    f"chain {chain}: {name} starts at type {a}, but the previous morphism ends at {t}"
                )
            t = b
        return src, t

    def compose(self, chain) -> list[int]:
        """The map of the composite ``f_n o .. o f_1`` of ``chain = (f_1, .., f_n)`` (local indices)."""
        self.endpoints(chain)
        out = list(range(len(self.types[self.morphisms[chain[0]][0]])))
        for name in chain:
            m = self.morphisms[name][2]
            out = [m[i] for i in out]
        return out

    def pairs(self, chain) -> list[tuple[int, int]]:
        """Global object ids ``(x, f(x))`` of a chain."""
        src, dst = self.endpoints(chain)
        return [(self.types[src][i], self.types[dst][j]) for i, j in enumerate(self.compose(chain))]


def typed_category(n_types: int = 4, per_type: int = 12, per_step: int = 2, max_len: int = 3, seed: int = 0):
    """A chain of types with random generating functions between neighbours and all composite chains."""
    if n_types < 3 or per_type < 2 or per_step < 1 or max_len < 2:
        raise ValueError(
            "typed_category needs n_types >= 3, per_type >= 2, per_step >= 1, max_len >= 2; "
            f"got {n_types, per_type, per_step, max_len}"
        )
    rng = random.Random(seed)
    types = [list(range(t * per_type, (t + 1) * per_type)) for t in range(n_types)]
    morphisms, by_step = {}, []
    for t in range(n_types - 1):
        names = []
        for j in range(per_step):
            name = f"f{t}{'abcdefgh'[j]}"
            morphisms[name] = (t, t + 1, [rng.randrange(per_type) for _ in range(per_type)])
            names.append(name)
        by_step.append(names)
    chains = []
    for length in range(2, max_len + 1):
        for start in range(n_types - length):
            chains += list(itertools.product(*by_step[start : start + length]))
    return Category(types, morphisms, chains)


def composition_error(m_gf: torch.Tensor, m_g: torch.Tensor, m_f: torch.Tensor) -> float:
    """``||M_{g o f} - M_g M_f||_F / ||M_{g o f}||_F`` (0 for a functor)."""
    if not (m_gf.shape == m_g.shape == m_f.shape) or m_gf.dim() != 2:
        raise ValueError(
            "composition_error needs three d x d matrices, got "
            f"{tuple(m_gf.shape), tuple(m_g.shape), tuple(m_f.shape)}"
        )
    return float(torch.linalg.norm(m_gf - m_g @ m_f) / torch.linalg.norm(m_gf).clamp_min(1e-12))


@register("embedder", "categorical", implements=CATEGORICAL_PAPER)
class CategoricalEmbedding(nn.Module):
    """Object vectors and morphism matrices; composites are matrix products (or, for the baseline,
    free matrices of their own)."""

    def __init__(self, category: Category, d: int = 24, compositional: bool = True, seed: int = 0):
        super().__init__()
        if d < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        self.category, self.compositional = category, compositional
        g = torch.Generator().manual_seed(seed)
        n = sum(len(t) for t in category.types)
        self.objects = nn.Parameter(torch.randn(n, d, generator=g) / d**0.5)
        self.names = list(category.morphisms)
        eye = torch.eye(d)
        self.mats = nn.Parameter(eye + 0.1 * torch.randn(len(self.names), d, d, generator=g))
        self.free_chains = [] if compositional else list(category.chains)
        self.free = nn.Parameter(eye + 0.1 * torch.randn(len(self.free_chains), d, d, generator=g))

    def matrix(self, chain) -> torch.Tensor:
        """``M`` of a chain: ``M_{f_n} ... M_{f_1}`` (compositional) or the chain's own free matrix."""
        chain = tuple(chain)
        if len(chain) > 1 and not self.compositional:
            if chain not in self.free_chains:
                raise KeyError(f"the non-compositional model has no matrix for chain {chain}")
            return self.free[self.free_chains.index(chain)]
        out = None
        for name in chain:
            if name not in self.names:
                raise KeyError(f"unknown morphism {name!r}; known: {self.names}")
            m = self.mats[self.names.index(name)]
            out = m if out is None else m @ out
        return out

    def logits(self, chain, x: torch.Tensor) -> torch.Tensor:
        """Scores ``(len(x), |target type|)`` of the images of objects ``x`` (global ids) under ``chain``."""
        _, dst = self.category.endpoints(chain)
        q = self.objects[x] @ self.matrix(chain).T
        return q @ self.objects[self.category.types[dst]].T

    def fit(self, data: dict, steps: int = 1500, lr: float = 0.01) -> list[float]:
        """Full-batch Adam on ``{chain: [(x, y), ...]}`` (global ids); the loss per step."""
        if not data or not any(data.values()):
            raise ValueError("fit needs at least one observed (x, f(x)) pair")
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        prepared = []
        for chain, pairs in data.items():
            if not pairs:
                continue
            _, dst = self.category.endpoints(chain)
            local = {o: i for i, o in enumerate(self.category.types[dst])}
            xs = torch.tensor([p[0] for p in pairs])
            ys = torch.tensor([local[p[1]] for p in pairs])
            prepared.append((chain, xs, ys))
        n = sum(len(x) for _, x, _ in prepared)
        history = []
        for _ in range(steps):
            loss = (
                sum(
                    nn.functional.cross_entropy(self.logits(c, x), y, reduction="sum") for c, x, y in prepared
                )
                / n
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.item())
        return history

    @torch.no_grad()
    def hits_at_1(self, chain, pairs) -> float:
        """Fraction of ``(x, y)`` whose top-scored target object is ``y``."""
        if not pairs:
            raise ValueError("hits_at_1 needs at least one pair")
        _, dst = self.category.endpoints(chain)
        targets = torch.tensor(self.category.types[dst])
        pred = targets[self.logits(chain, torch.tensor([p[0] for p in pairs])).argmax(1)]
        return float((pred == torch.tensor([p[1] for p in pairs])).float().mean())

    @torch.no_grad()
    def encode(self, items) -> torch.Tensor:
        """Object vectors ``(N, d)`` of global object ids."""
        return self.objects[torch.as_tensor(list(items)).long()].clone()
