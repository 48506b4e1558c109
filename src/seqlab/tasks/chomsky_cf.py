"""Deterministic context-free tasks of "Neural Networks and the Chomsky Hierarchy" (arXiv 2207.02098);
format and lengths as in :mod:`seqlab.tasks.chomsky`.

    modular_arithmetic_brackets  value mod 5 of a bracketed +,-,* expression of exact length L, grown as
                                 E -> d | -d | (d) | (-d) | (E op E), op uniform over + - *
                                 (both published codebases of the paper build it with multiplication)
    reverse_string               output s_L .. s_1
    stack_manipulation           binary stack (bottom to top) then POP / PUSH 0 / PUSH 1 actions;
                                 output the final stack top to bottom, then termination (class 2)
    solve_equation               a bracketed +,- expression of length L-2 with one digit replaced by x,
                                 then "= value"; output the hidden digit (no *: a factor 0 would make
                                 x ambiguous, while with + and - the digit is unique mod 5)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from seqlab.tasks.base import python_rng
from seqlab.tasks.chomsky import MOD, ChomskyTask, chomsky_task, terminated

# tokens of the bracketed tasks: digits 0..4, then these
B_PLUS, B_MINUS, B_OPEN, B_CLOSE, B_TIMES, B_X, B_EQ = (MOD + i for i in range(7))
BRACKET_OPS = (B_PLUS, B_MINUS, B_TIMES)


def bracket_expression(
    rng: random.Random, length: int, ops: tuple[int, ...] = BRACKET_OPS
) -> tuple[list[int], int]:
    """A random bracketed expression of exactly ``length`` tokens over ``ops`` (a subset of
    ``B_PLUS, B_MINUS, B_TIMES``, each picked uniformly at every inner node) and its value mod 5."""
    d = rng.randrange(MOD)
    if length == 1:
        return [d], d
    if length == 2:
        return [B_MINUS, d], -d % MOD
    if length == 3:
        return [B_OPEN, d, B_CLOSE], d
    if length == 4:
        return [B_OPEN, B_MINUS, d, B_CLOSE], -d % MOD
    left = rng.randrange(1, length - 3)
    a, va = bracket_expression(rng, left, ops)
    b, vb = bracket_expression(rng, length - 3 - left, ops)
    op = ops[rng.randrange(len(ops))]
    value = va + vb if op == B_PLUS else va - vb if op == B_MINUS else va * vb
    return [B_OPEN, *a, op, *b, B_CLOSE], value % MOD


@chomsky_task("modular_arithmetic_brackets", "context-free", "value mod 5 of a bracketed +,-,* expression")
@dataclass
class ModularArithmeticBrackets(ChomskyTask):
    """Digits 0..4, + (5), - (6), ( (7), ) (8), * (9); class = value mod 5."""

    n_symbols = 10
    n_classes = MOD

    def make(self, n, L, g):
        rng = python_rng(g)
        pairs = [bracket_expression(rng, L) for _ in range(n)]
        return (
            torch.tensor([p[0] for p in pairs], dtype=torch.long),
            torch.tensor([[p[1]] for p in pairs], dtype=torch.long),
            None,
        )


@chomsky_task("reverse_string", "context-free", "output a binary string reversed")
@dataclass
class ReverseString(ChomskyTask):
    """Output ``s_L .. s_1``."""

    def out_length(self, length):
        return length

    def make(self, n, L, g):
        x = torch.randint(0, 2, (n, L), generator=g)
        return x, x.flip(1), None


POP, PUSH0, PUSH1 = 2, 3, 4


@chomsky_task("stack_manipulation", "context-free", "run POP/PUSH actions on a stack, output the stack")
@dataclass
class StackManipulation(ChomskyTask):
    """Stack bits 0/1 (bottom to top), then actions POP (2), PUSH 0 (3), PUSH 1 (4); POP on empty is a
    no-op. Output: final stack top to bottom, termination 2, zeros (masked) up to ``L + 1``."""

    n_symbols = 5
    n_classes = 3

    def out_length(self, length):
        return length + 1

    def make(self, n, L, g):
        rng = python_rng(g)
        xs, results = [], []
        for _ in range(n):
            if L == 1:
                stack = [rng.randrange(2)]
                xs.append(list(stack))
                results.append(stack)
                continue
            k = rng.randrange(1, L)
            stack = [rng.randrange(2) for _ in range(k)]
            actions = [rng.randrange(POP, PUSH1 + 1) for _ in range(L - k)]
            xs.append(stack + actions)
            for a in actions:
                if a == POP:
                    if stack:
                        stack.pop()
                else:
                    stack.append(a - PUSH0)
            results.append(stack[::-1])
        y, m = terminated(results, L + 1, stop=2)
        return torch.tensor(xs, dtype=torch.long), y, m


@chomsky_task("solve_equation", "context-free", "find the digit x solving a bracketed mod-5 equation")
@dataclass
class SolveEquation(ChomskyTask):
    """Tokens of ``modular_arithmetic_brackets`` plus x (10) and = (11); the expression uses + and -
    only (``*`` stays unused), so the hidden digit is unique. Needs ``L >= 3``."""

    n_symbols = 12
    n_classes = MOD
    min_length = 3

    def make(self, n, L, g):
        rng = python_rng(g)
        xs, ys = [], []
        for _ in range(n):
            expr, value = bracket_expression(rng, L - 2, (B_PLUS, B_MINUS))
            digits = [i for i, t in enumerate(expr) if t < MOD]
            i = digits[rng.randrange(len(digits))]
            ys.append([expr[i]])
            expr[i] = B_X
            xs.append([*expr, B_EQ, value])
        return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long), None
