"""Multi-step arithmetic with written-out intermediate results.

The multi-step arithmetic setting of the continuous chain-of-thought papers (CCoT, PCCoT, SoftCoT;
e.g. "Parallel Continuous Chain-of-Thought with Jacobi Iteration", arXiv 2506.18582, trains on
arithmetic with intermediate results), at token scale: ``n_ops`` operations applied left to right,

    r_0 = a_0,   r_i = (r_{i-1} op_i a_i) mod modulus,   op_i in {+, -, *},

question ``a_0 op_1 a_1 ... op_k a_k``, trace ``r_1 .. r_k`` (one token each), answer ``r_k``. Because
reduction mod ``modulus`` commutes with ``+ - *``, ``r_k`` equals Python's
``eval("((a_0 op_1 a_1) op_2 a_2) ...") % modulus`` -- the independent check the tests use.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqlab.registry import Paper, register
from seqlab.tasks.base import check_ints
from seqlab.tasks.reasoning_base import N_SPECIAL, Example, ReasoningTask

OPS = ("+", "-", "*")
OP0 = N_SPECIAL  # op tokens
VAL0 = N_SPECIAL + len(OPS)
PCCOT = Paper("Parallel Continuous Chain-of-Thought with Jacobi Iteration", "2506.18582")


def apply(op: str, a: int, b: int, modulus: int) -> int:
    if op == "+":
        return (a + b) % modulus
    if op == "-":
        return (a - b) % modulus
    if op == "*":
        return (a * b) % modulus
    raise ValueError(f"unknown operation {op!r}; expected one of {OPS}")


@register(
    "task",
    "arithmetic",
    implements=PCCOT,
    used_by=[PCCOT.title],
    description="multi-step modular arithmetic, left to right, intermediate results as the chain of thought",
    metric="accuracy",
)
@dataclass
class Arithmetic(ReasoningTask):
    """``n_ops`` left-to-right operations on numbers in ``[0, modulus)``; trace = intermediate results."""

    n_ops: int = 3
    modulus: int = 10
    name = "arithmetic"

    def __post_init__(self):
        check_ints("arithmetic", n_ops=self.n_ops)
        check_ints("arithmetic", minimum=2, modulus=self.modulus)
        self.vocab_size = VAL0 + self.modulus
        self.n_outputs = self.vocab_size

    @property
    def question_len(self):
        return 2 * self.n_ops + 1

    @property
    def max_trace_len(self):
        return self.n_ops

    def decode_step(self, token):
        if not VAL0 <= token < self.vocab_size:
            raise ValueError(f"arithmetic: token {token} is not a value token")
        return token - VAL0

    def make_example(self, numbers, ops) -> Example:
        """An example from ``n_ops + 1`` numbers in ``[0, modulus)`` and ``n_ops`` operations."""
        nums, ops = list(numbers), list(ops)
        if len(nums) != self.n_ops + 1 or len(ops) != self.n_ops:
            raise ValueError(
                f"arithmetic: expects {self.n_ops + 1} numbers and {self.n_ops} ops, "
                f"got {len(nums)} and {len(ops)}"
            )
        if any(isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < self.modulus for a in nums):
            raise ValueError(f"arithmetic: numbers must be ints in [0, {self.modulus}), got {nums}")
        bad = [o for o in ops if o not in OPS]
        if bad:
            raise ValueError(f"arithmetic: unknown operations {bad}; expected {OPS}")
        trace, r = [], nums[0]
        for op, a in zip(ops, nums[1:]):
            r = apply(op, r, a, self.modulus)
            trace.append(r)
        question = [VAL0 + nums[0]]
        for op, a in zip(ops, nums[1:]):
            question += [OP0 + OPS.index(op), VAL0 + a]
        record = {"numbers": nums, "ops": ops, "answer": trace[-1], "trace": trace}
        return Example(question, [VAL0 + v for v in trace], VAL0 + trace[-1], record)

    def draw(self, rng):
        nums = [rng.randrange(self.modulus) for _ in range(self.n_ops + 1)]
        ops = [rng.choice(OPS) for _ in range(self.n_ops)]
        return self.make_example(nums, ops)

    def parse(self, question):
        if len(question) != self.question_len:
            raise ValueError(f"arithmetic: question of {len(question)} tokens, expected {self.question_len}")
        nums = [self.decode_step(t) for t in question[0::2]]
        ops = []
        for t in question[1::2]:
            if not OP0 <= t < VAL0:
                raise ValueError(f"arithmetic: token {t} is not an operation")
            ops.append(OPS[t - OP0])
        return {"numbers": nums, "ops": ops}
