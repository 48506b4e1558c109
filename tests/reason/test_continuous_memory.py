"""Continuous memory (arXiv 2510.09038): retrieval, text memory, the encoder, rollouts, the cell."""

import pytest
import torch

from seqlab.experiments.cell import get_experiment
from seqlab.reason.base import reasoning_model
from seqlab.reason.continuous_memory import ContinuousMemoryAgent, retrieve, text_memory
from seqlab.tasks.grid_nav import ACTIONS, MOVES, POS0, GridNav, shortest_path
from seqlab.tasks.reasoning_base import PAD, SEP


def test_retrieve_matches_a_plain_nearest_neighbour_loop():
    g = torch.Generator().manual_seed(0)
    keys, query = torch.randn(3, 10, 4, generator=g), torch.randn(3, 4, generator=g)
    valid = torch.rand(3, 10, generator=g) < 0.7
    valid[:, :3] = True
    got = retrieve(keys, query, 3, valid)
    for i in range(3):
        d = [(float(((keys[i, j] - query[i]) ** 2).sum()), j) for j in range(10) if valid[i, j]]
        assert got[i].tolist() == [j for _, j in sorted(d)[:3]]
    with pytest.raises(ValueError, match="fewer than r"):
        retrieve(keys, query, 9, valid & (torch.arange(10) < 2))
    with pytest.raises(ValueError, match="keys"):
        retrieve(keys[0], query, 2)


def test_text_memory_concatenates_raw_tokens_and_cuts_to_the_budget():
    trajs = torch.tensor([[[20, 21, PAD], [30, PAD, PAD]]])
    assert text_memory(trajs, 7).tolist() == [[PAD, PAD, 20, 21, SEP, 30, SEP]]
    assert text_memory(trajs, 3).tolist() == [[20, 21, SEP]]
    with pytest.raises(ValueError, match="budget"):
        text_memory(trajs, 0)


def agent(mode="continuous", slots=2, r=3, task=None):
    task = task or GridNav(size=4, max_moves=5)
    torch.manual_seed(0)
    return ContinuousMemoryAgent(reasoning_model(task.vocab_size, d_model=16, n_heads=2), mode, slots, r)


def test_every_trajectory_becomes_slots_vectors_whatever_its_length():
    a = agent()
    short, long = (
        torch.tensor([[POS0, POS0 + 1]]),
        torch.tensor([[POS0, POS0 + 1, POS0 + 2, POS0 + 6, POS0 + 7]]),
    )
    assert a.encode(short).shape == a.encode(long).shape == (1, 2, 16)
    trajs = torch.full((2, 3, 6), POS0)
    assert a.memory(trajs).shape == (2, 6, 16) and a.budget == 6
    assert agent("text").memory(trajs).shape == (2, 6, 16)
    assert agent("none").memory(trajs).shape == (2, 0, 16) and agent("none").budget == 0
    with pytest.raises(ValueError, match="r=3"):
        a.memory(torch.full((2, 2, 6), POS0))


def test_the_memory_reaches_the_policy():
    a = agent()
    goal, cur = torch.tensor([POS0 + 5]), torch.tensor([POS0])
    m1, m2 = a.memory(torch.full((1, 3, 4), POS0)), a.memory(torch.full((1, 3, 4), POS0 + 9))
    assert not torch.allclose(a.logits(m1, goal, cur), a.logits(m2, goal, cur))
    assert a.logits(m1, goal, cur).shape == (1, 4)


class Scripted(ContinuousMemoryAgent):
    """Logits from a fixed rule (oracle shortest path, or always UP) to test the rollout bookkeeping."""

    def __init__(self, task, grid, rule):
        super().__init__(reasoning_model(task.vocab_size, d_model=8, n_heads=2), "none", 1, 1)
        self.task, self.grid, self.rule = task, grid, rule

    def logits(self, memory, goal, cur):
        out = torch.zeros(len(cur), 4)
        for i, (gt, ct) in enumerate(zip(goal.tolist(), cur.tolist())):
            if self.rule == "up":
                out[i, 0] = 1
                continue
            c, gl = self.task.decode_step(ct), self.task.decode_step(gt)
            nxt = shortest_path(self.grid, c, gl)[1] if c != gl else c
            d = (nxt[0] - c[0], nxt[1] - c[1])
            out[i, [j for j, a in enumerate(ACTIONS) if MOVES[a] == d][0] if d != (0, 0) else 0] = 1
        return out


def test_rollouts_count_success_and_failure():
    task = GridNav(size=4, max_moves=6)
    grid = [[0, 0, 0, 0], [1, 1, 1, 0], [0, 0, 0, 0], [0, 1, 1, 1]]
    walls = torch.tensor([grid, grid], dtype=torch.bool)
    start, goal = torch.tensor([[2, 0], [0, 0]]), torch.tensor([[0, 0], [2, 1]])

    def pos(rc):
        return POS0 + rc[:, 0] * 4 + rc[:, 1]

    trajs = torch.zeros(2, 1, 3, dtype=torch.long)
    oracle = Scripted(task, grid, "oracle").rollout(trajs, walls, start, goal, pos, 12)
    assert oracle.tolist() == [True, True]
    assert Scripted(task, grid, "oracle").rollout(trajs, walls, start, goal, pos, 3).tolist() == [
        False,
        False,
    ]
    up = Scripted(task, grid, "up").rollout(trajs, walls, start, goal, pos, 12)
    assert up.tolist() == [False, False]  # row 1 is a wall under both starts / off the grid


def test_bad_agents_are_refused():
    with pytest.raises(ValueError, match="mode"):
        agent("magic")
    with pytest.raises(ValueError, match="slots"):
        agent(slots=0)
    with pytest.raises(ValueError, match="forward_embeds"):
        ContinuousMemoryAgent(torch.nn.Linear(2, 2))


def test_the_memory_cell_runs_end_to_end():
    fn = get_experiment("reason.memory")
    params = {
        "mode": "continuous",
        "steps": 3,
        "n_layouts": 8,
        "per_layout": 6,
        "retrieve": 2,
        "eval_layouts": 8,
        "size": 4,
        "max_moves": 5,
        "d_model": 16,
        "eval_sizes": [2, 5],
    }
    out = fn(params, 0)
    assert set(out["success_by_size"]) == {"2", "5"} and 0 <= out["success"] <= 1
    assert out["memory_positions"] == 4
    with pytest.raises(ValueError, match="memory sizes"):
        fn({**params, "eval_sizes": [9]}, 0)
