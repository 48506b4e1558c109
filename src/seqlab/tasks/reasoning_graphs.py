"""Graph reasoning tasks with a checkable chain of thought: ProsQA-style, ProntoQA-style, reachability.

Concepts are made-up names: ``n_names`` node tokens, a fresh random subset of them per example, so
a model cannot memorise facts and must read the edges given in the question. A question lists the
edges ``u v SEP`` ("every u is a v") in random order, then ``QUERY`` and the query nodes.

- ``prosqa`` (the ProsQA construction of "Training Large Language Models to Reason in a Continuous
  Latent Space", arXiv 2412.06769, at small scale): is ``source`` a ``o1`` or a ``o2``? Exactly
  one option is reachable from the source. The graph is a DAG with the true chain
  ``source -> a_1 -> ... -> target`` (``depth`` edges), ``n_dead`` dead-end branches leaving the
  chain (so a greedy walk can go wrong and must backtrack), a distractor chain of the same length
  ending in the other option, and ``n_cross`` edges from the distractor chain into the others
  (which never make the other option reachable). Trace: the path after the source; answer: the
  reachable option.
- ``prontoqa`` (the chains of "Language Models Are Greedy Reasoners: A Systematic Formal Analysis
  of Chain-of-Thought", arXiv 2210.01240, ProntoQA): a chain of ``depth`` rules from the source and
  a distractor chain from another root; is the source a ``query``? The trace walks the source's
  chain to its end; the answer is TRUE when the walk ends at the query, else FALSE.
- ``reachability`` (the graph reachability of "Reasoning by Superposition: A Theoretical
  Perspective on Chain of Continuous Thought", arXiv 2505.12514): a random directed graph on
  ``n_nodes`` nodes with ``n_edges`` edges, the reachable option at shortest distance exactly
  ``depth`` from the source (the diameter the continuous thoughts must cover), the other option
  unreachable. Trace: a shortest path (BFS, neighbours in token order); answer: the reachable option.

:func:`make_example` builds an example from a graph given by hand and refuses graphs where no
option is reachable or both are (the label would be wrong or ambiguous).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from seqlab.registry import Paper, register
from seqlab.tasks.base import check_ints
from seqlab.tasks.reasoning_base import N_SPECIAL, SEP, Example, ReasoningTask

QUERY, TRUE, FALSE = N_SPECIAL, N_SPECIAL + 1, N_SPECIAL + 2
NODE0 = N_SPECIAL + 3  # node v is token NODE0 + v

COCONUT = Paper("Training Large Language Models to Reason in a Continuous Latent Space", "2412.06769")
SUPERPOSITION = Paper(
    "Reasoning by Superposition: A Theoretical Perspective on Chain of Continuous Thought", "2505.12514"
)
PRONTOQA = Paper(
    "Language Models Are Greedy Reasoners: A Systematic Formal Analysis of Chain-of-Thought", "2210.01240"
)


def node_token(v: int) -> int:
    return NODE0 + v


def token_node(t: int) -> int:
    if t < NODE0:
        raise ValueError(f"token {t} is not a node token (nodes start at {NODE0})")
    return t - NODE0


def bfs_tree(edges, source):
    """Distances and BFS parents from ``source`` (neighbours visited in increasing order)."""
    adj: dict[int, list[int]] = {}
    for u, v in edges:
        adj.setdefault(u, []).append(v)
    dist, parent = {source: 0}, {source: None}
    queue = deque([source])
    while queue:
        u = queue.popleft()
        for v in sorted(adj.get(u, ())):
            if v not in dist:
                dist[v], parent[v] = dist[u] + 1, u
                queue.append(v)
    return dist, parent


def shortest_path(edges, source, target) -> list[int]:
    """Nodes of a shortest path ``source .. target``; ValueError when there is none."""
    dist, parent = bfs_tree(edges, source)
    if target not in dist:
        raise ValueError(f"no path from node {source} to node {target}: the question has no answer")
    path = [target]
    while path[-1] != source:
        path.append(parent[path[-1]])
    return path[::-1]


def frontiers(edges, source, steps: int) -> list[set[int]]:
    """``R_i`` for ``i = 0..steps``: the nodes reachable from ``source`` in at most ``i`` edges."""
    dist, _ = bfs_tree(edges, source)
    return [{v for v, d in dist.items() if d <= i} for i in range(steps + 1)]


def _edge_tokens(edges) -> list[int]:
    out = []
    for u, v in edges:
        out += [node_token(u), node_token(v), SEP]
    return out


def _parse_edges(question: list[int]) -> tuple[list[tuple[int, int]], list[int]]:
    if QUERY not in question:
        raise ValueError("graph question without a QUERY token")
    cut = question.index(QUERY)
    body, tail = question[:cut], question[cut + 1 :]
    if len(body) % 3:
        raise ValueError("graph question: edges must be 'u v SEP' triples")
    edges = [(token_node(body[i]), token_node(body[i + 1])) for i in range(0, len(body), 3)]
    return edges, [token_node(t) for t in tail]


def make_example(edges, source: int, options: tuple[int, int]) -> Example:
    """A two-option question ("is source an o1 or an o2?") from a given graph; the trace is a
    shortest path to the reachable option. Refuses graphs where neither or both options are reachable."""
    o1, o2 = options
    dist, _ = bfs_tree(edges, source)
    reach = [o for o in (o1, o2) if o in dist]
    if not reach:
        raise ValueError(
            f"no path from node {source} to either option {o1} or {o2}: the question has no answer"
        )
    if len(reach) == 2:
        raise ValueError(
            f"both options {o1} and {o2} are reachable from node {source}: the answer is ambiguous"
        )
    path = shortest_path(edges, source, reach[0])
    question = _edge_tokens(edges) + [QUERY, node_token(source), node_token(o1), node_token(o2)]
    record = {"edges": [tuple(e) for e in edges], "source": source, "query": [o1, o2], "answer": reach[0]}
    record["trace"] = path[1:]
    return Example(question, [node_token(v) for v in path[1:]], node_token(reach[0]), record)


class _GraphTask(ReasoningTask):
    def _names(self, rng: random.Random, k: int) -> list[int]:
        if k > self.n_names:
            raise ValueError(f"{self.name}: needs {k} distinct names, n_names={self.n_names}")
        return rng.sample(range(self.n_names), k)

    def parse(self, question):
        edges, tail = _parse_edges(question)
        return self._record(edges, tail)

    def _record(self, edges, tail):
        source, o1, o2 = tail
        return {"edges": edges, "source": source, "query": [o1, o2]}

    def decode_step(self, token):
        return token_node(token)


@register(
    "task",
    "prosqa",
    implements=COCONUT,
    used_by=[COCONUT.title],
    description="ProsQA-style: is X a Y or a Z? over a generated DAG with dead ends and a distractor chain",
    metric="accuracy",
)
@dataclass
class ProsQA(_GraphTask):
    """ProsQA-style two-option reachability over a DAG of made-up concepts (see the module docstring)."""

    depth: int = 3
    n_dead: int = 1
    n_cross: int = 2
    n_names: int = 24
    name = "prosqa"

    def __post_init__(self):
        check_ints("prosqa", depth=self.depth, n_names=self.n_names)
        check_ints("prosqa", minimum=0, n_dead=self.n_dead, n_cross=self.n_cross)
        need = 2 * (self.depth + 1) + self.n_dead * max(self.depth - 1, 1)
        if need > self.n_names:
            raise ValueError(
                f"prosqa: depth {self.depth} with {self.n_dead} dead ends needs n_names >= {need}"
            )
        self.vocab_size = NODE0 + self.n_names
        self.n_outputs = self.vocab_size

    @property
    def max_edges(self) -> int:
        return 2 * self.depth + self.n_dead * max(self.depth - 1, 1) + self.n_cross

    @property
    def question_len(self):
        return 3 * self.max_edges + 4

    @property
    def max_trace_len(self):
        return self.depth

    def draw(self, rng):
        d = self.depth
        dead_len = [rng.randint(1, max(d - 1, 1)) for _ in range(self.n_dead)]
        names = self._names(rng, 2 * (d + 1) + sum(dead_len))
        chain, other = names[: d + 1], names[d + 1 : 2 * d + 2]
        rest = names[2 * d + 2 :]
        edges = list(zip(chain, chain[1:])) + list(zip(other, other[1:]))
        dead_nodes = []
        for k in dead_len:
            branch, rest = rest[:k], rest[k:]
            start = chain[rng.randrange(d)]  # leaves the true chain before its end
            edges += list(zip([start] + branch, branch))
            dead_nodes += branch
        targets = chain[1:-1] + dead_nodes  # cross edges: distractor chain -> true chain / dead ends
        cross = set()
        for _ in range(self.n_cross):
            if not targets:
                break
            cross.add((rng.choice(other[:-1]), rng.choice(targets)))
        edges += sorted(cross)
        rng.shuffle(edges)
        options = [chain[-1], other[-1]]
        rng.shuffle(options)
        return make_example(edges, chain[0], tuple(options))


@register(
    "task",
    "reachability",
    implements=SUPERPOSITION,
    used_by=[SUPERPOSITION.title],
    description="graph reachability on a random digraph, reachable option at shortest distance = depth",
    metric="accuracy",
)
@dataclass
class Reachability(_GraphTask):
    """Random directed graph; which of two options is reachable (see the module docstring)."""

    n_nodes: int = 10
    n_edges: int = 14
    depth: int = 3
    n_names: int = 24
    name = "reachability"

    def __post_init__(self):
        check_ints("reachability", n_nodes=self.n_nodes, n_edges=self.n_edges, depth=self.depth)
        check_ints("reachability", n_names=self.n_names)
        if self.n_nodes > self.n_names:
            raise ValueError(f"reachability: n_nodes {self.n_nodes} > n_names {self.n_names}")
        if self.depth + 2 > self.n_nodes:
            raise ValueError(
                f"reachability: depth {self.depth} needs n_nodes >= depth + 2 = {self.depth + 2} "
                f"(a path plus an unreachable option), got {self.n_nodes}"
            )
        if self.n_edges < self.depth:
            raise ValueError(f"reachability: n_edges {self.n_edges} < depth {self.depth}")
        self.vocab_size = NODE0 + self.n_names
        self.n_outputs = self.vocab_size

    @property
    def question_len(self):
        return 3 * self.n_edges + 4

    @property
    def max_trace_len(self):
        return self.depth

    def draw(self, rng):
        nodes = self._names(rng, self.n_nodes)
        path, q = nodes[: self.depth + 1], nodes[self.depth + 1]
        s, t = path[0], path[-1]
        edges = list(zip(path, path[1:]))
        have = set(edges)
        tries = 0
        while len(edges) < self.n_edges:
            tries += 1
            if tries > 200 * self.n_edges:
                raise ValueError(
                    f"reachability: could not place {self.n_edges} edges on {self.n_nodes} nodes keeping "
                    f"distance {self.depth} and an unreachable option; use fewer edges or more nodes"
                )
            u, v = rng.sample(nodes, 2)
            if (u, v) in have:
                continue
            dist, _ = bfs_tree(edges + [(u, v)], s)
            if dist.get(t) != self.depth or q in dist:
                continue
            edges.append((u, v))
            have.add((u, v))
        rng.shuffle(edges)
        options = [t, q]
        rng.shuffle(options)
        return make_example(edges, s, tuple(options))


@register(
    "task",
    "prontoqa",
    implements=PRONTOQA,
    used_by=[COCONUT.title],
    description="ProntoQA-style: walk a chain of rules from the source; is the source a <query>? TRUE/FALSE",
    metric="accuracy",
)
@dataclass
class ProntoQA(_GraphTask):
    """A rule chain and a distractor chain; TRUE when the source's chain ends at the query."""

    depth: int = 3
    n_names: int = 24
    name = "prontoqa"

    def __post_init__(self):
        check_ints("prontoqa", depth=self.depth, n_names=self.n_names)
        if 2 * (self.depth + 1) > self.n_names:
            raise ValueError(f"prontoqa: depth {self.depth} needs n_names >= {2 * (self.depth + 1)}")
        self.vocab_size = NODE0 + self.n_names
        self.n_outputs = self.vocab_size

    @property
    def question_len(self):
        return 3 * 2 * self.depth + 3

    @property
    def max_trace_len(self):
        return self.depth

    def draw(self, rng):
        d = self.depth
        names = self._names(rng, 2 * (d + 1))
        chain, other = names[: d + 1], names[d + 1 :]
        edges = list(zip(chain, chain[1:])) + list(zip(other, other[1:]))
        rng.shuffle(edges)
        truth = rng.random() < 0.5
        query = chain[-1] if truth else other[-1]
        question = _edge_tokens(edges) + [QUERY, node_token(chain[0]), node_token(query)]
        record = {"edges": edges, "source": chain[0], "query": query, "answer": truth, "trace": chain[1:]}
        return Example(question, [node_token(v) for v in chain[1:]], TRUE if truth else FALSE, record)

    def _record(self, edges, tail):
        source, query = tail
        return {"edges": edges, "source": source, "query": query}

    def decode_answer(self, token):
        if token not in (TRUE, FALSE):
            raise ValueError(f"prontoqa: answer token must be TRUE ({TRUE}) or FALSE ({FALSE}), got {token}")
        return token == TRUE
