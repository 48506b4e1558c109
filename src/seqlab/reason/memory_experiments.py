"""Experiment cell of the continuous-memory claim: one grid-navigation agent trained and rolled out.

``reason.memory`` (params below) draws a pool of training layouts of :mod:`seqlab.tasks.grid_nav`
(train seeds), each with ``per_layout`` episodes and their shortest-path trajectories, and trains a
:class:`~seqlab.reason.continuous_memory.ContinuousMemoryAgent` by behaviour cloning: a batch row
is one state on one episode's path, its memory a random bank of ``N`` (uniform in
``[retrieve, per_layout - 1]``) *other* episodes of the same layout, of which the ``retrieve``
nearest by task key (start and goal) are plugged in. Evaluation rolls the greedy policy out on
unseen test layouts (test seeds) with memory banks of each size in ``eval_sizes``, and on fresh
training-split layouts (the positive control).

Returns ``success`` (at the largest evaluated size), ``success_by_size`` (size -> success rate),
``train_success``, ``memory_positions`` (context positions the memory takes), ``train_loss`` and
``train_seconds``.

params: ``size``, ``wall_prob``, ``max_moves`` (the task), ``mode`` (continuous / text / none),
``slots``, ``retrieve``, ``per_layout``, ``n_layouts``, ``steps``, ``batch_size``, ``lr``,
``d_model``, ``n_layers``, ``n_heads``, ``eval_layouts``, ``eval_sizes``.
"""

from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from seqlab.experiments.cell import experiment
from seqlab.reason.base import reasoning_model
from seqlab.reason.continuous_memory import ContinuousMemoryAgent, retrieve
from seqlab.tasks.base import split_seed
from seqlab.tasks.grid_nav import ACTIONS, POS0, GridNav, moves_of, shortest_path
from seqlab.tasks.reasoning_base import PAD


def layout_pool(task: GridNav, n_layouts: int, per_layout: int, seed: int, split: str) -> dict:
    """``n_layouts`` layouts of ``split``, ``per_layout`` episodes each, as tensors: ``walls`` (n, S, S),
    ``start``/``goal`` (n, P, 2), ``trajs`` (n, P, L) position tokens (PAD after the goal),
    ``acts`` (n, P, L - 1) move indices into U D L R, ``lens`` (n, P) moves, ``keys`` (n, P, 4)."""
    rng = random.Random(split_seed(seed, split))
    L = task.max_moves + 1
    walls = torch.zeros(n_layouts, task.size, task.size, dtype=torch.bool)
    start = torch.zeros(n_layouts, per_layout, 2, dtype=torch.long)
    goal = torch.zeros_like(start)
    trajs = torch.full((n_layouts, per_layout, L), PAD, dtype=torch.long)
    acts = torch.zeros(n_layouts, per_layout, L - 1, dtype=torch.long)
    lens = torch.zeros(n_layouts, per_layout, dtype=torch.long)
    i = 0
    while i < n_layouts:
        grid = task.layout(rng)
        try:
            eps = [task.episode(grid, rng) for _ in range(per_layout)]
        except ValueError:
            continue
        walls[i] = torch.tensor(grid, dtype=torch.bool)
        for j, (s, g) in enumerate(eps):
            path = shortest_path(grid, s, g)
            start[i, j], goal[i, j] = torch.tensor(s), torch.tensor(g)
            trajs[i, j, : len(path)] = torch.tensor([task.pos_token(c) for c in path])
            mv = [ACTIONS.index(a) for a in moves_of(path)]
            acts[i, j, : len(mv)] = torch.tensor(mv)
            lens[i, j] = len(mv)
        i += 1
    keys = torch.cat([start, goal], -1).float() / task.size
    return {
        "walls": walls,
        "start": start,
        "goal": goal,
        "trajs": trajs,
        "acts": acts,
        "lens": lens,
        "keys": keys,
    }


def bank_and_retrieve(pool, li, qi, n_bank, r, generator) -> torch.Tensor:
    """For query episode ``qi`` of layout ``li`` (each (B,)): a random bank of ``n_bank`` (B,) other
    episodes of the layout, and the ``r`` nearest of them by key; returns their trajectories (B, r, L)."""
    B, P = li.shape[0], pool["keys"].shape[1]
    scores = torch.rand(B, P, generator=generator)
    scores[torch.arange(B), qi] = float("inf")  # never the query episode itself
    bank = scores.argsort(1)[:, : P - 1]
    valid = torch.arange(P - 1)[None] < n_bank[:, None]
    keys = pool["keys"][li[:, None], bank]
    sel = retrieve(keys, pool["keys"][li, qi], r, valid)
    ids = bank.gather(1, sel)
    return pool["trajs"][li[:, None], ids]


def success_rate(agent, task, pool, n_bank: int, seed: int) -> float:
    """Greedy rollouts of the first episode of every layout of ``pool`` with banks of ``n_bank``."""
    g = torch.Generator().manual_seed(seed)
    n = pool["walls"].shape[0]
    li, qi = torch.arange(n), torch.zeros(n, dtype=torch.long)
    trajs = bank_and_retrieve(pool, li, qi, torch.full((n,), n_bank), agent.r, g)

    def pos_token(rc):
        return POS0 + rc[:, 0] * task.size + rc[:, 1]

    ok = agent.rollout(
        trajs, pool["walls"], pool["start"][:, 0], pool["goal"][:, 0], pos_token, 2 * task.max_moves
    )
    return float(ok.float().mean())


@experiment("reason.memory")
def memory_arm(params: dict, seed: int) -> dict:
    task = GridNav(
        size=params.get("size", 5),
        wall_prob=params.get("wall_prob", 0.3),
        max_moves=params.get("max_moves", 8),
    )
    per_layout = params.get("per_layout", 33)
    r = params.get("retrieve", 4)
    sizes = list(params.get("eval_sizes", [r, per_layout - 1]))
    if per_layout - 1 < r or any(not r <= s <= per_layout - 1 for s in sizes):
        raise ValueError(
            f"memory sizes must lie in [retrieve={r}, per_layout - 1={per_layout - 1}], got {sizes}"
        )
    torch.manual_seed(seed)
    model = reasoning_model(
        task.vocab_size,
        d_model=params.get("d_model", 32),
        n_layers=params.get("n_layers", 2),
        n_heads=params.get("n_heads", 2),
    )
    agent = ContinuousMemoryAgent(model, mode=params["mode"], slots=params.get("slots", 2), retrieve=r)
    pool = layout_pool(task, params.get("n_layouts", 1000), per_layout, seed, "train")
    opt = torch.optim.AdamW(agent.parameters(), lr=params.get("lr", 3e-3), weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    B, n_lay = params.get("batch_size", 64), pool["walls"].shape[0]
    losses, t0 = [], time.perf_counter()
    agent.train()
    for _ in range(params["steps"]):
        li = torch.randint(n_lay, (B,), generator=g)
        qi = torch.randint(per_layout, (B,), generator=g)
        n_bank = torch.randint(r, per_layout, (B,), generator=g)
        trajs = bank_and_retrieve(pool, li, qi, n_bank, r, g)
        k = pool["lens"][li, qi]
        t = (torch.rand(B, generator=g) * k).long()
        cur = pool["trajs"][li, qi, t]
        goal = pool["trajs"][li, qi, k]
        loss = F.cross_entropy(agent.logits(agent.memory(trajs), goal, cur), pool["acts"][li, qi, t])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(agent.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    secs = time.perf_counter() - t0
    agent.eval()
    n_eval = params.get("eval_layouts", 256)
    test = layout_pool(task, n_eval, per_layout, seed, "test")
    by_size = {str(s): success_rate(agent, task, test, s, seed) for s in sizes}
    fresh = layout_pool(task, n_eval, per_layout, 900_000_000 + seed, "train")  # never in the training pool
    tail = losses[-20:]
    return {
        "success": by_size[str(max(sizes))],
        "success_by_size": by_size,
        "train_success": success_rate(agent, task, fresh, max(sizes), seed),
        "memory_positions": agent.budget,
        "train_loss": sum(tail) / len(tail),
        "train_seconds": secs,
    }
