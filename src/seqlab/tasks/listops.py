"""Generated ListOps.

"ListOps: A Diagnostic Dataset for Latent Tree Learning" (arXiv 1804.06028): prefix expressions
over digits 0..9 with list operators, e.g. ``[MAX 2 9 [MIN 4 7 ] 0 ]``, classified by their value
(10 classes)::

    MAX, MIN: maximum / minimum of the arguments;  MED: int(median);  SM: sum mod 10.

Trees are grown recursively: the root is an operator; below it each argument is a digit with
probability ``leaf_prob`` (always at ``max_depth``), otherwise an operator with ``2..max_args``
arguments. Expressions longer than ``seq_len`` tokens are redrawn. Sequences are left-padded with
PAD so the expression ends at the last position, where the label sits (mask true only there).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints, python_rng

OPS = ("MAX", "MIN", "MED", "SM")
OP_ID = {op: 10 + i for i, op in enumerate(OPS)}
CLOSE, PAD = 14, 15
APPLY = {
    "MAX": max,
    "MIN": min,
    "MED": lambda a: int(statistics.median(a)),
    "SM": lambda a: sum(a) % 10,
}


def listops_value(tokens: list[int]) -> int:
    """Value of a ListOps token sequence (digit ids 0..9, operators 10..13, close 14)."""
    stack: list[list] = []
    value = None
    for t in tokens:
        if t < 10:
            if not stack:
                return t
            stack[-1].append(t)
        elif t == CLOSE:
            op, *args = stack.pop()
            value = APPLY[op](args)
            if stack:
                stack[-1].append(value)
        else:
            stack.append([OPS[t - 10]])
    if stack or value is None:
        raise ValueError(f"malformed ListOps expression {tokens}")
    return value


@register(
    "task",
    "listops",
    implements=Paper("ListOps: A Diagnostic Dataset for Latent Tree Learning", "1804.06028"),
    description="value (0-9) of a nested MAX/MIN/MED/SM list expression",
    metric="accuracy",
)
@dataclass
class ListOps(Task):
    """Classify a generated ListOps expression by its value; label at the last position."""

    seq_len: int = 128
    max_depth: int = 4
    max_args: int = 5
    leaf_prob: float = 0.6
    vocab_size: int = field(default=16, init=False)
    n_outputs: int = field(default=10, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="accuracy", init=False)

    def __post_init__(self):
        check_ints("listops", seq_len=self.seq_len, max_depth=self.max_depth)
        check_ints("listops", minimum=2, max_args=self.max_args)
        if self.seq_len < 4:
            raise ValueError(
                f"listops: seq_len must be >= 4 (shortest expression '[OP d d ]'), got {self.seq_len}"
            )
        if not 0 <= self.leaf_prob < 1:
            raise ValueError(f"listops: leaf_prob must lie in [0, 1), got {self.leaf_prob}")

    def _tree(self, rng, depth: int) -> list[int]:
        if depth > 0 and (depth >= self.max_depth or rng.random() < self.leaf_prob):
            return [rng.randrange(10)]
        out = [OP_ID[rng.choice(OPS)]]
        for _ in range(rng.randint(2, self.max_args)):
            out += self._tree(rng, depth + 1)
        return out + [CLOSE]

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError("listops has a fixed seq_len; pass length=None")
        rng = python_rng(generator)
        L = self.seq_len
        inputs = torch.full((n, L), PAD, dtype=torch.long)
        targets = torch.zeros(n, L, dtype=torch.long)
        for i in range(n):
            for _ in range(1000):
                expr = self._tree(rng, 0)
                if len(expr) <= L:
                    break
            else:
                raise ValueError(f"listops: could not draw an expression of <= {L} tokens; raise seq_len")
            inputs[i, L - len(expr) :] = torch.tensor(expr)
            targets[i, L - 1] = listops_value(expr)
        mask = torch.zeros(n, L, dtype=torch.bool)
        mask[:, L - 1] = True
        return {"inputs": inputs, "targets": targets, "mask": mask}
