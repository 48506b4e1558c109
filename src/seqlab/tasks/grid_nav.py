"""Grid navigation: walk from a start cell to a goal cell of a walled grid along a shortest path.

The agent setting of "Auto-scaling Continuous Memory for GUI Agent" (arXiv 2510.09038) at toy
scale: a *layout* (an ``size x size`` grid, each cell a wall with probability ``wall_prob``) plays
the part of an interface, an *episode* asks to go from ``start`` to ``goal`` on it, and the
*trajectory* is the breadth-first-search shortest path (cells ``start = c_0, c_1, .., c_k = goal``,
neighbours differ by one move ``U``/``D``/``L``/``R``; ties broken by the move order ``U D L R``).

As a reasoning task (:mod:`seqlab.tasks.reasoning_base`) one example is written

    question: the grid (one WALL/FREE token per cell, row-major), START s, GOAL g
    trace:    the cells c_1 .. c_k of the shortest path (one position token each)
    answer:   the number of moves k (a count token)

and ``describe(batch, i)`` gives ``grid`` (list of rows of 0/1, 1 = wall), ``start``, ``goal``,
``trajectory`` (the cells c_0..c_k as ``(row, col)``), ``moves`` and ``answer`` (= k).

Layouts come from the split's seed range like every example, so train and test layouts are
disjoint (:func:`seqlab.tasks.base.split_seed`); :meth:`GridNav.layout` draws one layout and
:meth:`GridNav.episode` one (start, goal) pair on it, which is what an agent with a memory of
past episodes on the same layout (:mod:`seqlab.reason.continuous_memory`) needs. A pair with no
path between them is refused by :func:`shortest_path` ("no path") rather than given a label.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

from seqlab.registry import Paper, register
from seqlab.tasks.base import check_ints
from seqlab.tasks.reasoning_base import N_SPECIAL, Example, ReasoningTask

MEMORY_PAPER = Paper("Auto-scaling Continuous Memory for GUI Agent", "2510.09038")

FREE, WALL, START, GOAL = N_SPECIAL, N_SPECIAL + 1, N_SPECIAL + 2, N_SPECIAL + 3
UP, DOWN, LEFT, RIGHT = N_SPECIAL + 4, N_SPECIAL + 5, N_SPECIAL + 6, N_SPECIAL + 7
ACTIONS = (UP, DOWN, LEFT, RIGHT)
MOVES = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1)}
MOVE_NAMES = {UP: "U", DOWN: "D", LEFT: "L", RIGHT: "R"}
POS0 = N_SPECIAL + 8  # position tokens: POS0 + row * size + col; count tokens follow them


def check_grid(grid) -> list[list[int]]:
    """``grid`` as a square list of rows of 0 (free) / 1 (wall); ValueError otherwise."""
    rows = [list(r) for r in grid]
    n = len(rows)
    if n == 0 or any(len(r) != n for r in rows) or any(v not in (0, 1) for r in rows for v in r):
        raise ValueError(f"grid must be a non-empty square list of rows of 0 (free) / 1 (wall), got {grid!r}")
    return rows


def _check_cell(grid, cell, name):
    n = len(grid)
    if not (isinstance(cell, tuple | list) and len(cell) == 2 and all(isinstance(v, int) for v in cell)):
        raise ValueError(f"{name} must be a (row, col) pair of ints, got {cell!r}")
    r, c = cell
    if not (0 <= r < n and 0 <= c < n):
        raise ValueError(f"{name} {tuple(cell)} lies outside the {n}x{n} grid")
    if grid[r][c]:
        raise ValueError(f"{name} {tuple(cell)} is a wall")
    return (r, c)


def step(grid, cell, action: int):
    """The cell reached by ``action`` from ``cell``; None when it leaves the grid or hits a wall."""
    if action not in MOVES:
        raise ValueError(f"action must be one of {ACTIONS} (U, D, L, R), got {action!r}")
    dr, dc = MOVES[action]
    r, c = cell[0] + dr, cell[1] + dc
    n = len(grid)
    if not (0 <= r < n and 0 <= c < n) or grid[r][c]:
        return None
    return (r, c)


def shortest_path(grid, start, goal) -> list[tuple[int, int]]:
    """Breadth-first search: the cells of a shortest path ``start .. goal`` (ties: moves in U D L R
    order). ValueError "no path" when the goal cannot be reached from the start."""
    grid = check_grid(grid)
    start, goal = _check_cell(grid, start, "start"), _check_cell(grid, goal, "goal")
    parent = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for a in ACTIONS:
            nxt = step(grid, cell, a)
            if nxt is not None and nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    if goal not in parent:
        raise ValueError(f"no path from {start} to {goal}: the goal is walled off")
    path, cell = [], goal
    while cell is not None:
        path.append(cell)
        cell = parent[cell]
    return path[::-1]


def moves_of(path) -> list[int]:
    """The action tokens that walk ``path`` (consecutive cells must be neighbours)."""
    out = []
    for (r0, c0), (r1, c1) in zip(path, path[1:]):
        d = (r1 - r0, c1 - c0)
        acts = [a for a, m in MOVES.items() if m == d]
        if not acts:
            raise ValueError(f"cells {(r0, c0)} and {(r1, c1)} are not neighbours")
        out.append(acts[0])
    return out


@register(
    "task",
    "grid_nav",
    implements=MEMORY_PAPER,
    used_by=[MEMORY_PAPER.title],
    description="grid navigation: shortest path from start to goal on a walled grid (continuous memory)",
    metric="accuracy",
)
@dataclass
class GridNav(ReasoningTask):
    """``size x size`` grids with walls (probability ``wall_prob``); paths of 1..``max_moves`` moves."""

    size: int = 5
    wall_prob: float = 0.3
    max_moves: int = 8

    def __post_init__(self):
        check_ints("grid_nav", size=self.size, max_moves=self.max_moves)
        if self.size < 2:
            raise ValueError(f"grid_nav: size must be >= 2, got {self.size}")
        if not 0.0 <= float(self.wall_prob) < 0.7:
            raise ValueError(f"grid_nav: wall_prob must lie in [0, 0.7), got {self.wall_prob!r}")
        self.n_cells = self.size * self.size
        self.count0 = POS0 + self.n_cells
        self.vocab_size = self.count0 + self.max_moves + 1
        self.n_outputs = self.vocab_size

    # -- tokens ----------------------------------------------------------------------------
    def pos_token(self, cell) -> int:
        r, c = cell
        if not (0 <= r < self.size and 0 <= c < self.size):
            raise ValueError(f"grid_nav: cell {cell} outside the {self.size}x{self.size} grid")
        return POS0 + r * self.size + c

    def decode_step(self, token):
        if not POS0 <= token < self.count0:
            raise ValueError(f"grid_nav: token {token} is not a position token")
        return divmod(token - POS0, self.size)

    def decode_answer(self, token):
        if not self.count0 <= token < self.vocab_size:
            raise ValueError(f"grid_nav: token {token} is not a count token")
        return token - self.count0

    @property
    def question_len(self):
        return self.n_cells + 4

    @property
    def max_trace_len(self):
        return self.max_moves

    # -- generation ------------------------------------------------------------------------
    def layout(self, rng: random.Random) -> list[list[int]]:
        """One random layout with at least two free cells in one connected region."""
        for _ in range(1000):
            grid = [[int(rng.random() < self.wall_prob) for _ in range(self.size)] for _ in range(self.size)]
            if len(self.free_cells(grid)) >= 2:
                return grid
        raise ValueError(f"grid_nav: no layout with two free cells at wall_prob={self.wall_prob}")

    @staticmethod
    def free_cells(grid) -> list[tuple[int, int]]:
        return [(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if not v]

    def episode(self, grid, rng: random.Random) -> tuple[tuple[int, int], tuple[int, int]]:
        """A (start, goal) pair on ``grid`` joined by a path of 1..max_moves moves (rejection sampling)."""
        free = self.free_cells(grid)
        for _ in range(1000):
            s, g = rng.sample(free, 2)
            try:
                k = len(shortest_path(grid, s, g)) - 1
            except ValueError:  # walled off: draw again
                continue
            if k <= self.max_moves:
                return s, g
        raise ValueError("grid_nav: this layout has no start/goal pair within max_moves")

    def make_example(self, grid, start, goal) -> Example:
        grid = check_grid(grid)
        if len(grid) != self.size:
            raise ValueError(f"grid_nav: expects a {self.size}x{self.size} grid, got {len(grid)}x{len(grid)}")
        path = shortest_path(grid, tuple(start), tuple(goal))
        k = len(path) - 1
        if not 1 <= k <= self.max_moves:
            raise ValueError(f"grid_nav: the shortest path has {k} moves; the task takes 1..{self.max_moves}")
        question = [WALL if v else FREE for row in grid for v in row]
        question += [START, self.pos_token(path[0]), GOAL, self.pos_token(path[-1])]
        record = {"grid": grid, "start": path[0], "goal": path[-1], "trajectory": path}
        return Example(question, [self.pos_token(c) for c in path[1:]], self.count0 + k, record)

    def draw(self, rng):
        for _ in range(100):
            grid = self.layout(rng)
            try:
                s, g = self.episode(grid, rng)
            except ValueError:
                continue
            return self.make_example(grid, s, g)
        raise ValueError("grid_nav: could not draw a layout with a reachable pair")

    def parse(self, question):
        n = self.n_cells
        if len(question) != n + 4 or question[n] != START or question[n + 2] != GOAL:
            raise ValueError("grid_nav: a question is the grid cells then START s GOAL g")
        cells = question[:n]
        if any(t not in (FREE, WALL) for t in cells):
            raise ValueError("grid_nav: grid tokens must be FREE or WALL")
        grid = [[int(cells[r * self.size + c] == WALL) for c in range(self.size)] for r in range(self.size)]
        return {
            "grid": grid,
            "start": self.decode_step(question[n + 1]),
            "goal": self.decode_step(question[n + 3]),
        }

    def describe(self, batch, i):
        out = super().describe(batch, i)
        out["trajectory"] = [out["start"], *out["trace"]]
        out["moves"] = [MOVE_NAMES[a] for a in moves_of(out["trajectory"])]
        return out
