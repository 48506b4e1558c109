"""Subset sum and minimum non-negative sum, with partial sums as the chain of thought.

The search tasks of "Continuous Chain of Thought Enables Parallel Exploration and Reasoning"
(CoT2, arXiv 2505.23648). ``m`` numbers ``a_1 .. a_m`` drawn from ``[1, max_value]``:

- ``variant="mnns"`` (minimum non-negative sum): choose signs ``e_i`` in ``{+1, -1}`` minimising
  ``sum_i e_i a_i`` subject to it being ``>= 0``. The trace is the partial sums
  ``s_t = sum_{i<=t} e_i a_i`` of the optimal signs (ties: the first sign pattern in binary order,
  bit ``i`` set = minus); the answer is ``s_m``.
- ``variant="subset_sum"``: is there a subset summing to ``target``? The trace is the partial sums
  ``s_t = sum_{i<=t} x_i a_i`` (``x_i`` in ``{0, 1}``) of the subset with the largest sum not above the
  target (ties: first in binary order), so every question has a trace; the answer is YES when that
  sum equals the target, else NO. Targets are reachable for half the questions (when an
  unreachable target exists). :func:`witness` asks for a subset and raises on an unsatisfiable one.

:func:`trace_distributions` gives, per step, the distribution of ``s_t`` over all ``2^t`` (subset
sum, both variants) traces -- the multi-trace supervision target of CoT2.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from seqlab.registry import Paper, register
from seqlab.tasks.base import check_ints
from seqlab.tasks.reasoning_base import N_SPECIAL, Example, ReasoningTask

QUERY, YES, NO = N_SPECIAL, N_SPECIAL + 1, N_SPECIAL + 2
VAL0 = N_SPECIAL + 3

COT2 = Paper("Continuous Chain of Thought Enables Parallel Exploration and Reasoning", "2505.23648")
VARIANTS = ("mnns", "subset_sum")


def _check_numbers(numbers) -> list[int]:
    nums = list(numbers)
    if not nums or any(isinstance(a, bool) or not isinstance(a, int) or a < 1 for a in nums):
        raise ValueError(f"numbers must be a non-empty list of positive ints, got {numbers!r}")
    return nums


def _patterns(m: int, variant: str):
    """Coefficient vectors in binary order: x_i in {0,1} (subset sum) or e_i in {+1,-1} (MNNS: bit = -1)."""
    for mask in range(2**m):
        bits = [(mask >> (m - 1 - i)) & 1 for i in range(m)]
        yield bits if variant == "subset_sum" else [-1 if b else 1 for b in bits]


def partial_sums(numbers, coefs) -> list[int]:
    out, s = [], 0
    for a, c in zip(numbers, coefs, strict=True):
        s += a * c
        out.append(s)
    return out


def best_trace(numbers, variant: str, target: int | None = None) -> list[int]:
    """Partial sums of the optimal coefficients (see the module docstring for the tie rule)."""
    nums = _check_numbers(numbers)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    best = None
    for coefs in _patterns(len(nums), variant):
        s = partial_sums(nums, coefs)
        total = s[-1]
        if variant == "mnns":
            if total >= 0 and (best is None or total < best[-1]):
                best = s
        elif total <= target and (best is None or total > best[-1]):
            best = s
    if best is None:  # subset sum with a negative target: not even the empty subset fits
        raise ValueError(f"subset sum: target {target} is negative; the empty subset (0) already exceeds it")
    return best


def witness(numbers, target: int) -> list[int]:
    """Indices of a subset of ``numbers`` summing to ``target``; ValueError if it is unsatisfiable."""
    nums = _check_numbers(numbers)
    for coefs in _patterns(len(nums), "subset_sum"):
        if sum(a * c for a, c in zip(nums, coefs)) == target:
            return [i for i, c in enumerate(coefs) if c]
    raise ValueError(f"subset sum is unsatisfiable: no subset of {nums} sums to {target}")


def trace_distributions(numbers, variant: str) -> list[dict[int, float]]:
    """Per step ``t``, the empirical distribution of ``s_t`` over every trace of the search tree."""
    nums = _check_numbers(numbers)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    sums = [partial_sums(nums, c) for c in _patterns(len(nums), variant)]
    out = []
    for t in range(len(nums)):
        counts = Counter(s[t] for s in sums)
        out.append({v: c / len(sums) for v, c in sorted(counts.items())})
    return out


@register(
    "task",
    "subset_sum",
    implements=COT2,
    used_by=[COT2.title],
    description="minimum non-negative sum / subset sum, partial sums as the chain of thought (CoT2)",
    metric="accuracy",
)
@dataclass
class SubsetSum(ReasoningTask):
    """Signed (MNNS) or 0/1 (subset sum) search over ``n_numbers`` numbers; one token per partial sum."""

    n_numbers: int = 4
    max_value: int = 9
    variant: str = "mnns"

    def __post_init__(self):
        check_ints("subset_sum", n_numbers=self.n_numbers, max_value=self.max_value)
        if self.variant not in VARIANTS:
            raise ValueError(f"subset_sum: variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.n_numbers > 12:
            raise ValueError(f"subset_sum: n_numbers {self.n_numbers} > 12 (traces are enumerated)")
        self.bound = self.n_numbers * self.max_value  # |partial sum| <= bound
        self.offset = self.bound if self.variant == "mnns" else 0
        self.vocab_size = VAL0 + self.offset + self.bound + 1
        self.n_outputs = self.vocab_size

    def value_token(self, v: int) -> int:
        if not -self.offset <= v <= self.bound:
            raise ValueError(f"subset_sum: value {v} outside [{-self.offset}, {self.bound}]")
        return VAL0 + self.offset + v

    def decode_step(self, token):
        if token < VAL0:
            raise ValueError(f"subset_sum: token {token} is not a value token")
        return token - VAL0 - self.offset

    def decode_answer(self, token):
        if self.variant == "subset_sum":
            if token not in (YES, NO):
                raise ValueError(f"subset_sum: answer token must be YES ({YES}) or NO ({NO}), got {token}")
            return token == YES
        return self.decode_step(token)

    @property
    def value_tokens(self) -> list[int]:
        return list(range(VAL0, self.vocab_size))

    @property
    def question_len(self):
        return self.n_numbers + (2 if self.variant == "subset_sum" else 1)

    @property
    def max_trace_len(self):
        return self.n_numbers

    def make_example(self, numbers, target: int | None = None) -> Example:
        """An example from given numbers (and, for subset sum, a target in ``[0, sum]``)."""
        nums = _check_numbers(numbers)
        if len(nums) != self.n_numbers or max(nums) > self.max_value:
            raise ValueError(
                f"subset_sum: expects {self.n_numbers} numbers in [1, {self.max_value}], got {nums}"
            )
        question = [self.value_token(a) for a in nums]
        if self.variant == "subset_sum":
            if target is None or not 0 <= target <= self.bound:
                raise ValueError(f"subset_sum: needs a target in [0, {self.bound}], got {target!r}")
            trace = best_trace(nums, "subset_sum", target)
            found = trace[-1] == target
            question += [QUERY, self.value_token(target)]
            answer, value = (YES if found else NO), found
        else:
            if target is not None:
                raise ValueError("subset_sum: the mnns variant takes no target")
            trace = best_trace(nums, "mnns")
            question += [QUERY]
            answer, value = self.value_token(trace[-1]), trace[-1]
        record = {"numbers": nums, "target": target, "answer": value, "trace": trace}
        return Example(question, [self.value_token(s) for s in trace], answer, record)

    def draw(self, rng):
        nums = [rng.randint(1, self.max_value) for _ in range(self.n_numbers)]
        if self.variant == "mnns":
            return self.make_example(nums)
        reachable = {sum(a * c for a, c in zip(nums, co)) for co in _patterns(len(nums), "subset_sum")}
        unreachable = [v for v in range(1, sum(nums)) if v not in reachable]
        if unreachable and rng.random() < 0.5:
            target = rng.choice(unreachable)
        else:
            target = rng.choice(sorted(reachable - {0}))
        return self.make_example(nums, target)

    def step_distributions(self, example):
        nums = example.record["numbers"]
        return [
            {self.value_token(v): p for v, p in d.items()} for d in trace_distributions(nums, self.variant)
        ]

    def parse(self, question):
        if QUERY not in question:
            raise ValueError("subset_sum question without a QUERY token")
        cut = question.index(QUERY)
        nums = [self.decode_step(t) for t in question[:cut]]
        tail = question[cut + 1 :]
        return {"numbers": nums, "target": self.decode_step(tail[0]) if tail else None}
