"""Context-sensitive tasks of "Neural Networks and the Chomsky Hierarchy" (arXiv 2207.02098); format
and lengths as in :mod:`seqlab.tasks.chomsky`.

    duplicate_string          output s s  (2L tokens)
    missing_duplicate_string  input w w (|w| = L//2) with one token replaced by 2 (and a pad 3 if L is
                              odd); output the missing bit; needs L >= 2
    odds_first                output s_1 s_3 s_5 ... s_2 s_4 ...
    binary_addition           little-endian a + b (separator 2), output a+b little-endian without
                              trailing zeros, then termination 2 (L+1 outputs); needs L >= 3
    binary_multiplication     the same with a*b (L outputs); needs L >= 3
    compute_sqrt              a big-endian number n in [1, 2^L), output floor(sqrt(n)) big-endian on
                              ceil(L/2) bits
    bucket_sort               a string over 5 symbols, output it sorted
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqlab.tasks.base import python_rng
from seqlab.tasks.chomsky import ChomskyTask, chomsky_task, terminated


def little_endian(value: int, width: int) -> list[int]:
    """Bits of ``value`` least significant first, zero-filled to ``width`` (``[]`` for 0 at width 0)."""
    bits = [int(c) for c in reversed(f"{value:b}")] if value else []
    return bits + [0] * (width - len(bits))


@chomsky_task("duplicate_string", "context-sensitive", "output a binary string twice")
@dataclass
class DuplicateString(ChomskyTask):
    """Output ``s s``."""

    def out_length(self, length):
        return 2 * length

    def make(self, n, L, g):
        x = torch.randint(0, 2, (n, L), generator=g)
        return x, torch.cat([x, x], dim=1), None


@chomsky_task(
    "missing_duplicate_string", "context-sensitive", "recover the masked bit of a duplicated string"
)
@dataclass
class MissingDuplicateString(ChomskyTask):
    """Tokens 0, 1, missing (2), pad (3); class = the missing bit."""

    n_symbols = 4
    min_length = 2

    def make(self, n, L, g):
        half = torch.randint(0, 2, (n, L // 2), generator=g)
        x = torch.cat([half, half, torch.full((n, L % 2), 3, dtype=torch.long)], dim=1)
        idx = torch.randint(0, 2 * (L // 2), (n,), generator=g)
        rows = torch.arange(n)
        y = x[rows, idx].clone()
        x[rows, idx] = 2
        return x, y.unsqueeze(1), None


@chomsky_task("odds_first", "context-sensitive", "output the odd-indexed tokens, then the even-indexed")
@dataclass
class OddsFirst(ChomskyTask):
    """Output ``s_1 s_3 ... s_2 s_4 ...`` (1-based indices), the order of the paper's text. The reference
    code's ``sample_batch`` puts the 0-based indices ``1::2`` first (``s_2 s_4 ... s_1 s_3 ...``)."""

    def out_length(self, length):
        return length

    def make(self, n, L, g):
        x = torch.randint(0, 2, (n, L), generator=g)
        return x, torch.cat([x[:, 0::2], x[:, 1::2]], dim=1), None


def _two_operands(rng, L):
    """Two little-endian operands of random widths summing to ``L - 1`` (with separator 2)."""
    wa = rng.randrange(1, L - 1)
    wb = L - 1 - wa
    a, b = rng.randint(1, 2**wa - 1), rng.randint(1, 2**wb - 1)
    return a, b, little_endian(a, wa) + [2] + little_endian(b, wb)


@chomsky_task("binary_addition", "context-sensitive", "add two little-endian binary numbers")
@dataclass
class BinaryAddition(ChomskyTask):
    """Input ``a + b`` little-endian with separator 2; output ``a + b`` little-endian, termination 2."""

    n_symbols = 3
    n_classes = 3
    min_length = 3

    def out_length(self, length):
        return length + 1

    def make(self, n, L, g):
        rng = python_rng(g)
        xs, results = [], []
        for _ in range(n):
            a, b, x = _two_operands(rng, L)
            xs.append(x)
            results.append(little_endian(a + b, 0))
        y, m = terminated(results, L + 1, stop=2)
        return torch.tensor(xs, dtype=torch.long), y, m


@chomsky_task("binary_multiplication", "context-sensitive", "multiply two little-endian binary numbers")
@dataclass
class BinaryMultiplication(ChomskyTask):
    """Input ``a * b`` little-endian with separator 2; output ``a * b`` little-endian, termination 2."""

    n_symbols = 3
    n_classes = 3
    min_length = 3

    def out_length(self, length):
        return length

    def make(self, n, L, g):
        rng = python_rng(g)
        xs, results = [], []
        for _ in range(n):
            a, b, x = _two_operands(rng, L)
            xs.append(x)
            results.append(little_endian(a * b, 0))
        y, m = terminated(results, L, stop=2)
        return torch.tensor(xs, dtype=torch.long), y, m


@chomsky_task("compute_sqrt", "context-sensitive", "floor of the square root of a big-endian binary number")
@dataclass
class ComputeSqrt(ChomskyTask):
    """Input ``n`` big-endian on ``L`` bits; output ``isqrt(n)`` big-endian on ``ceil(L/2)`` bits."""

    def out_length(self, length):
        return math.ceil(length / 2)

    def make(self, n, L, g):
        rng = python_rng(g)
        T = self.out_length(L)
        nums = [rng.randint(1, 2**L - 1) for _ in range(n)]
        xs = [little_endian(v, L)[::-1] for v in nums]
        ys = [little_endian(math.isqrt(v), T)[::-1] for v in nums]
        return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long), None


@chomsky_task("bucket_sort", "context-sensitive", "sort a string over 5 symbols")
@dataclass
class BucketSort(ChomskyTask):
    """Output the input sorted."""

    n_symbols = 5
    n_classes = 5

    def out_length(self, length):
        return length

    def make(self, n, L, g):
        x = torch.randint(0, 5, (n, L), generator=g)
        return x, x.sort(dim=1).values, None
