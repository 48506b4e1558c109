"""Reasoning by superposition: D continuous thoughts of a 2-layer transformer on graph reachability.

"Reasoning by Superposition: A Theoretical Perspective on Chain of Continuous Thought" (Zhu et al.,
arXiv 2505.12514) proves that a two-layer transformer with ``D`` continuous thoughts (Coconut's
feedback of the last hidden state, :mod:`seqlab.reason.coconut`) decides reachability on graphs of
diameter ``D``: thought ``i`` is a superposition of the embeddings of every node reachable from the
source within ``i`` edges,

    h_i  ~  sum_{v in R_i} u_v,        R_i = {v : dist(source, v) <= i},

a parallel breadth-first search, where discrete CoT must commit to one path per step. The check
(:func:`frontier_scores`): project each thought onto the (unit) node embeddings of the graph's
nodes; the mean projection on ``R_i`` should exceed that on the other nodes of the graph.

:class:`Superposition` is Coconut with one thought per step, ``D`` thoughts at the last stage and a
2-layer model; it adds the projection check.
"""

from __future__ import annotations

import torch

from seqlab.reason.coconut import Coconut
from seqlab.registry import Paper, register

SUPERPOSITION = Paper(
    "Reasoning by Superposition: A Theoretical Perspective on Chain of Continuous Thought", "2505.12514"
)


def projections(thought: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
    """``<thought / |thought|, u_v / |u_v|>`` for every row ``u_v`` of ``embeddings`` (k, d) -> (k,)."""
    if thought.dim() != 1 or embeddings.dim() != 2 or embeddings.shape[1] != thought.shape[0]:
        raise ValueError(
            f"projections expects a thought (d,) and embeddings (k, d), got {tuple(thought.shape)} and "
            f"{tuple(embeddings.shape)}"
        )
    t = thought / thought.norm().clamp_min(1e-12)
    u = embeddings / embeddings.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return u @ t


@register(
    "reasoner",
    "superposition",
    implements=SUPERPOSITION,
    used_by=[SUPERPOSITION.title],
    description="2-layer transformer, D continuous thoughts on reachability; thought ~ frontier sum",
)
class Superposition(Coconut):
    """Coconut with one thought per step on reachability, plus the superposition check."""

    def __init__(self, model, depth: int, n_stages: int | None = None):
        super().__init__(model, cot_steps=depth, n_stages=n_stages, thoughts_per_step=1)
        self.depth = depth

    @torch.no_grad()
    def final_thoughts(self, batch) -> torch.Tensor:
        """The ``D`` thoughts of the last stage (n, D, d)."""
        self._check(batch)
        _, th = self.thoughts(self.prefix(batch), self.n_thoughts(self.n_stages))
        return th


@torch.no_grad()
def frontier_scores(reasoner: Superposition, task, batch) -> list[dict[str, float]]:
    """Per thought ``i = 1..D``: mean projection on the nodes of ``R_i`` ("frontier") and on the other
    nodes of the graph ("other"), averaged over the batch (rows where both sets are non-empty)."""
    from seqlab.tasks.reasoning_graphs import frontiers, node_token

    th = reasoner.final_thoughts(batch)
    table = reasoner.embed(torch.arange(int(reasoner.model.vocab_size))[None])[0]
    sums = [{"frontier": 0.0, "other": 0.0, "n": 0} for _ in range(th.shape[1])]
    for b in range(th.shape[0]):
        rec = task.describe(batch, b)
        nodes = sorted({u for e in rec["edges"] for u in e})
        reach = frontiers(rec["edges"], rec["source"], th.shape[1])
        emb = table[[node_token(v) for v in nodes]]
        for i in range(th.shape[1]):
            proj = projections(th[b, i], emb)
            inside = torch.tensor([v in reach[i + 1] for v in nodes])
            if inside.all() or not inside.any():
                continue
            sums[i]["frontier"] += float(proj[inside].mean())
            sums[i]["other"] += float(proj[~inside].mean())
            sums[i]["n"] += 1
    return [
        {"frontier": s["frontier"] / max(s["n"], 1), "other": s["other"] / max(s["n"], 1), "rows": s["n"]}
        for s in sums
    ]
