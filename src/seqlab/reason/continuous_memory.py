"""Continuous memory for an agent: past trajectories encoded to fixed-length embeddings.

"Auto-scaling Continuous Memory for GUI Agent" (Wu et al., arXiv 2510.09038). The agent keeps a
memory bank of past trajectories. For a new task it retrieves the ``r`` trajectories whose task
keys are nearest to the new task's key (the paper: FAISS similarity search), and each retrieved
trajectory is encoded into ``k`` continuous embeddings by the backbone itself with ``k`` learned
query vectors appended (a Q-Former-style read-out) and a small trainable projection::

    m_j = W h_L([E(c_0) .. E(c_T), q_1 .. q_k])[last k positions]      (k vectors per trajectory)

The ``r * k`` memory vectors are plugged straight into the policy's input layer, before the
current observation; the context cost is ``r * k`` positions however long the trajectories are.
The comparison is a *text memory*: the raw tokens of the same retrieved trajectories (separated
by ``SEP``), cut to the same ``r * k`` positions, and no memory at all.

Here the agent walks the grids of :mod:`seqlab.tasks.grid_nav` without seeing the walls: its
observation is only the goal and its current cell, so everything it knows about an unseen layout
comes from the memory of other episodes on that layout. The policy is trained by behaviour
cloning of the shortest-path move and judged by rollouts (success = goal reached with no move into
a wall or off the grid, within ``2 * max_moves`` moves).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.reason.base import check_lm
from seqlab.registry import Paper, register
from seqlab.tasks.grid_nav import ACTIONS, GOAL, MOVES
from seqlab.tasks.reasoning_base import PAD, SEP

MEMORY = Paper("Auto-scaling Continuous Memory for GUI Agent", "2510.09038")
MODES = ("continuous", "text", "none")


def retrieve(
    keys: torch.Tensor, query: torch.Tensor, r: int, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Indices of the ``r`` memory entries nearest to ``query`` in Euclidean distance.

    ``keys`` (n, N, f), ``query`` (n, f), ``valid`` (n, N) bool (entries that exist); ties go to
    the lower index. Returns (n, r) indices, nearest first. ValueError when fewer than ``r`` are valid.
    """
    if (
        keys.dim() != 3
        or query.dim() != 2
        or keys.shape[0] != query.shape[0]
        or keys.shape[2] != query.shape[1]
    ):
        raise ValueError(
            f"retrieve expects keys (n, N, f) and query (n, f), got {tuple(keys.shape)}, {tuple(query.shape)}"
        )
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"r (retrieval depth) must be an int >= 1, got {r!r}")
    dist = ((keys - query[:, None]) ** 2).sum(-1)
    if valid is not None:
        if int(valid.sum(1).min()) < r:
            raise ValueError(f"retrieve: a memory holds fewer than r={r} trajectories")
        dist = dist.masked_fill(~valid, float("inf"))
    elif keys.shape[1] < r:
        raise ValueError(f"retrieve: a memory of {keys.shape[1]} trajectories cannot give r={r}")
    return torch.sort(dist, dim=1, stable=True).indices[:, :r]


def text_memory(trajs: torch.Tensor, budget: int) -> torch.Tensor:
    """Raw-token memory: each trajectory's non-PAD tokens then ``SEP``, concatenated in retrieval
    order and cut to ``budget`` tokens (left-padded with PAD). ``trajs`` (n, r, L) -> (n, budget)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValueError(f"budget must be an int >= 1, got {budget!r}")
    rows = []
    for row in trajs.tolist():
        seq = []
        for t in row:
            seq += [x for x in t if x != PAD] + [SEP]
        seq = seq[:budget]
        rows.append([PAD] * (budget - len(seq)) + seq)
    return torch.tensor(rows, dtype=torch.long, device=trajs.device)


@register(
    "reasoner",
    "continuous_memory",
    implements=MEMORY,
    used_by=[MEMORY.title],
    description="agent memory: retrieved trajectories as k embeddings each, in the policy's input layer",
)
class ContinuousMemoryAgent(nn.Module):
    """A grid-navigation policy with a memory of past trajectories (see the module docstring).

    ``mode``: ``"continuous"`` (``slots`` embeddings per retrieved trajectory), ``"text"`` (raw
    tokens, ``retrieve * slots`` of them) or ``"none"``. ``model`` needs ``input_embeddings`` and
    ``forward_embeds`` (a :class:`SequenceModel`); its vocabulary must hold the grid_nav tokens.
    """

    def __init__(self, model, mode: str = "continuous", slots: int = 2, retrieve: int = 4):
        super().__init__()
        check_lm(model)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        for name, v in (("slots", slots), ("retrieve", retrieve)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.model, self.mode, self.slots, self.r = model, mode, slots, retrieve
        d = model.input_embeddings(torch.zeros(1, 1, dtype=torch.long)).shape[-1]
        self.queries = nn.Parameter(torch.randn(slots, d) * 0.02)
        self.project = nn.Linear(d, d)
        self.register_buffer("actions", torch.tensor(ACTIONS), persistent=False)

    @property
    def budget(self) -> int:
        """Context positions the memory takes (equal for continuous and text memory)."""
        return 0 if self.mode == "none" else self.r * self.slots

    def encode(self, trajs: torch.Tensor) -> torch.Tensor:
        """``k`` continuous embeddings per trajectory: (m, L) tokens -> (m, slots, d)."""
        e = self.model.input_embeddings(trajs)
        x = torch.cat([e, self.queries.expand(trajs.shape[0], -1, -1).to(e.dtype)], 1)
        h = self.model.forward_embeds(x).hidden_states[-1][:, -self.slots :]
        return self.project(h)

    def memory(self, trajs: torch.Tensor) -> torch.Tensor:
        """The memory block for the input layer: (n, r, L) retrieved trajectories -> (n, budget, d)."""
        n = trajs.shape[0]
        if self.mode == "none":
            return self.model.input_embeddings(torch.zeros(n, 1, dtype=torch.long, device=trajs.device))[
                :, :0
            ]
        if trajs.dim() != 3 or trajs.shape[1] != self.r:
            raise ValueError(
                f"memory expects (n, r={self.r}, L) retrieved trajectories, got {tuple(trajs.shape)}"
            )
        if self.mode == "text":
            return self.model.input_embeddings(text_memory(trajs, self.budget))
        return self.encode(trajs.reshape(n * self.r, -1)).reshape(n, self.budget, -1)

    def logits(self, memory: torch.Tensor, goal: torch.Tensor, cur: torch.Tensor) -> torch.Tensor:
        """Action logits (n, 4) in the order U D L R, from the memory block, goal and current cell tokens."""
        obs = torch.stack([torch.full_like(goal, GOAL), goal, cur], 1)
        x = torch.cat([memory, self.model.input_embeddings(obs)], 1)
        return self.model.forward_embeds(x).logits[:, -1][:, self.actions]

    def loss(self, trajs, goal, cur, action_index) -> torch.Tensor:
        """Behaviour cloning: cross-entropy of the expert's move (index into U D L R)."""
        return F.cross_entropy(self.logits(self.memory(trajs), goal, cur), action_index)

    @torch.no_grad()
    def rollout(self, trajs, grids, start, goal, pos_token, max_steps: int) -> torch.Tensor:
        """Greedy rollouts on ``grids`` (n, S, S) bool walls from ``start`` to ``goal`` ((n, 2) cells);
        ``pos_token(rc)`` maps (n, 2) cells to tokens. Returns success (n,) bool: the goal reached
        within ``max_steps`` moves, none of them into a wall or off the grid."""
        mem = self.memory(trajs)
        size = grids.shape[-1]
        cur, alive = start.clone(), torch.ones(start.shape[0], dtype=torch.bool)
        done = (cur == goal).all(1)
        deltas = torch.tensor([MOVES[a] for a in ACTIONS])
        gtok = pos_token(goal)
        for _ in range(max_steps):
            a = self.logits(mem, gtok, pos_token(cur)).argmax(-1)
            nxt = cur + deltas[a]
            inside = ((nxt >= 0) & (nxt < size)).all(1)
            clipped = nxt.clamp(0, size - 1)
            free = inside & ~grids[torch.arange(len(cur)), clipped[:, 0], clipped[:, 1]]
            moving = alive & ~done
            alive = alive & (free | ~moving)
            cur = torch.where((moving & free)[:, None], nxt, cur)
            done = done | (alive & (cur == goal).all(1))
            if bool((done | ~alive).all()):
                break
        return done & alive
