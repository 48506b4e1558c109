"""The algorithmic tasks of "Neural Networks and the Chomsky Hierarchy" (arXiv 2207.02098), as used
for length generalization in "Randomized Positional Encodings Boost Length Generalization of
Transformers" (arXiv 2305.16843). This module holds the shared format and the regular tasks;
``chomsky_cf`` holds the (deterministic) context-free and ``chomsky_cs`` the context-sensitive ones.

Format (one token stream, as the encoder-only models of both papers read it): an input string
``s_1..s_L`` over the task's alphabet, followed by ``T(L)`` blank tokens (id = alphabet size). The
output is read from the blank positions: one class for classification tasks (``T = 1``), one token
per blank for sequence tasks. Sequence tasks whose answer is shorter than ``T`` end it with a
termination token and mask every position after it, so accuracy is per token up to termination.

Lengths: training draws ``L`` uniformly from ``min_length..max_train_length`` (1..40 by default;
a few tasks need ``L >= 2`` or ``3``), testing uses ``max_train_length+1..max_test_length``. The
papers test up to 500; ``max_test_length`` defaults to 100 here for speed.

Regular tasks (finite automata solve them):
    even_pairs        y = (#"01" + #"10") mod 2   (= [s_1 != s_L])
    parity_check      y = (#"1") mod 2
    cycle_navigation  y = sum_t (s_t - 1) mod 5   (tokens 0,1,2 = left, stay, right)
    modular_arithmetic  y = value mod 5 of "d op d op ... d", ops + - * with * binding tighter;
                      odd length only (an even L gives an expression of length L-1, as in the paper)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints

CHOMSKY = "Neural Networks and the Chomsky Hierarchy"
RANDOMIZED_PE = "Randomized Positional Encodings Boost Length Generalization of Transformers"


def chomsky_task(name: str, level: str, description: str):
    """Register a Chomsky-hierarchy task under ``name``."""
    return register(
        "task", name, implements=Paper(CHOMSKY, "2207.02098"), used_by=[RANDOMIZED_PE], level=level,
        description=description, metric="accuracy",
    )


@dataclass
class ChomskyTask(Task):
    """Shared format: input string, then ``out_length(L)`` blanks carrying the output."""

    max_train_length: int = 40
    max_test_length: int = 100
    vocab_size: int = field(default=0, init=False)
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="accuracy", init=False)

    n_symbols = 2  # input alphabet size; the blank is id n_symbols
    n_classes = 2  # output alphabet size
    min_length = 1

    def __post_init__(self):
        name = type(self).__name__
        check_ints(name, max_train_length=self.max_train_length, max_test_length=self.max_test_length)
        if self.max_train_length < self.min_length:
            raise ValueError(
                f"{name}: max_train_length must be >= {self.min_length} (shortest valid input), "
                f"got {self.max_train_length}"
            )
        if self.max_test_length <= self.max_train_length:
            raise ValueError(
                f"{name}: max_test_length must exceed max_train_length={self.max_train_length}, "
                f"got {self.max_test_length}"
            )
        self.vocab_size = self.n_symbols + 1
        self.n_outputs = self.n_classes

    @property
    def blank(self) -> int:
        return self.n_symbols

    @property
    def train_lengths(self):
        return range(self.min_length, self.max_train_length + 1)

    @property
    def test_lengths(self):
        return range(self.max_train_length + 1, self.max_test_length + 1)

    def out_length(self, length: int) -> int:
        """Number of output (blank) positions for an input of ``length``; 1 for classification."""
        return 1

    def make(self, n: int, length: int, g: torch.Generator):
        """Return ``(strings (n, L'), outputs (n, T), out_mask (n, T) or None)``."""
        raise NotImplementedError

    def generate(self, n, length, generator):
        L = self.pick_length(length, generator)
        x, y, m = self.make(n, L, generator)
        T = y.shape[1]
        Lx = x.shape[1]
        inputs = torch.cat([x, torch.full((n, T), self.blank, dtype=torch.long)], dim=1)
        targets = torch.cat([torch.zeros(n, Lx, dtype=torch.long), y], dim=1)
        out_mask = torch.ones(n, T, dtype=torch.bool) if m is None else m
        mask = torch.cat([torch.zeros(n, Lx, dtype=torch.bool), out_mask], dim=1)
        return {"inputs": inputs, "targets": targets, "mask": mask}


def terminated(results: list[list[int]], width: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad each result + ``stop`` with zeros to ``width``; mask true up to and including ``stop``."""
    n = len(results)
    y = torch.zeros(n, width, dtype=torch.long)
    m = torch.zeros(n, width, dtype=torch.bool)
    for i, r in enumerate(results):
        r = list(r) + [stop]
        y[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        m[i, : len(r)] = True
    return y, m


@chomsky_task("even_pairs", "regular", "is the number of 01 and 10 pairs of a binary string odd")
@dataclass
class EvenPairs(ChomskyTask):
    """Class 1 when ``#01 + #10`` is odd, i.e. when the first and last bits differ."""

    def make(self, n, L, g):
        x = torch.randint(0, 2, (n, L), generator=g)
        pairs = (x[:, 1:] != x[:, :-1]).sum(1)
        return x, (pairs % 2).unsqueeze(1), None


@chomsky_task("parity_check", "regular", "parity of the number of ones of a binary string")
@dataclass
class ParityCheck(ChomskyTask):
    """Class = number of ones mod 2."""

    def make(self, n, L, g):
        x = torch.randint(0, 2, (n, L), generator=g)
        return x, (x.sum(1) % 2).unsqueeze(1), None


@chomsky_task("cycle_navigation", "regular", "final position on a 5-cycle after left/stay/right moves")
@dataclass
class CycleNavigation(ChomskyTask):
    """Tokens 0, 1, 2 move -1, 0, +1 on a cycle of 5 starting at 0; class = final position."""

    n_symbols = 3
    n_classes = 5

    def make(self, n, L, g):
        x = torch.randint(0, 3, (n, L), generator=g)
        return x, ((x - 1).sum(1) % 5).unsqueeze(1), None


MOD = 5
PLUS, MINUS, TIMES = MOD, MOD + 1, MOD + 2


def eval_flat(tokens: list[int]) -> int:
    """Value mod 5 of ``d op d ... d`` (ops +, -, * as ids 5, 6, 7; * binds tighter)."""
    total, sign, term = 0, 1, tokens[0]
    for op, d in zip(tokens[1::2], tokens[2::2]):
        if op == TIMES:
            term *= d
        else:
            total += sign * term
            sign, term = (1 if op == PLUS else -1), d
    return (total + sign * term) % MOD


@chomsky_task("modular_arithmetic", "regular", "value mod 5 of a flat +,-,* expression (odd lengths)")
@dataclass
class ModularArithmetic(ChomskyTask):
    """Digits 0..4 at even positions, operators +, -, * (ids 5, 6, 7) at odd ones; class = value mod 5."""

    n_symbols = 8
    n_classes = MOD

    def make(self, n, L, g):
        L = L if L % 2 == 1 else L - 1
        x = torch.empty(n, L, dtype=torch.long)
        x[:, 0::2] = torch.randint(0, MOD, (n, (L + 1) // 2), generator=g)
        x[:, 1::2] = torch.randint(PLUS, TIMES + 1, (n, L // 2), generator=g)
        y = torch.tensor([[eval_flat(row)] for row in x.tolist()], dtype=torch.long)
        return x, y, None
