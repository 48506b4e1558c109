"""Shared layout of the reasoning tasks: a question, a discrete chain of thought, an answer.

Every reasoning task (``reasoning_graphs``, ``reasoning_subset_sum``, ``reasoning_arithmetic``)
draws structured examples -- a graph and a query, a list of numbers and a target, an expression --
and writes each one as tokens::

    [PAD ... PAD] question  BOT  s_1 ... s_k  EOT  answer  [PAD ...]
                  ^ left-padded to the task's question length       ^ right-padded

where ``s_1 .. s_k`` is the discrete chain of thought, one token per reasoning step. Questions are
left-padded so that ``BOT`` sits in the same column of every row (a batch of continuous thoughts
is then one tensor); the variable-length suffix is right-padded.

The token-level batch follows :mod:`seqlab.tasks.base` (next-token prediction): ``inputs`` is the
sequence without its last token, ``targets`` the sequence shifted by one, ``mask`` true where the
target is a step, ``EOT`` or the answer. Alongside, every batch carries the structured parts the
reasoners in :mod:`seqlab.reason` use:

- ``question`` ``(n, Lq)`` left-padded question tokens,
- ``trace`` ``(n, S)`` the steps, right-padded with ``PAD``; ``trace_len`` ``(n,)``,
- ``answer`` ``(n,)`` the answer token;
- ``trace_dist`` ``(n, S, vocab)`` only for tasks with several valid traces (subset sum): per step,
  the distribution of the step token over all traces (CoT2's multi-trace supervision).

``describe(batch, i)`` reads row ``i`` back into a dict (edges / numbers, query, answer, trace) so
any script can check the labels with its own solver.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from seqlab.tasks.base import Task, python_rng

PAD, BOT, EOT, SEP = 0, 1, 2, 3
N_SPECIAL = 4  # task-specific tokens start here


@dataclass
class Example:
    """One structured example: question tokens, step tokens, answer token, and its raw record."""

    question: list[int]
    trace: list[int]
    answer: int
    record: dict


class ReasoningTask(Task):
    """Base class: subclasses implement :meth:`draw` (one :class:`Example`), :attr:`question_len`,
    :attr:`max_trace_len`, :meth:`parse` (question tokens -> record without the labels) and
    :meth:`decode_step` / :meth:`decode_answer` (tokens -> values)."""

    def draw(self, rng: random.Random) -> Example:
        raise NotImplementedError

    @property
    def question_len(self) -> int:
        raise NotImplementedError

    @property
    def max_trace_len(self) -> int:
        raise NotImplementedError

    def parse(self, question: list[int]) -> dict:
        raise NotImplementedError

    @property
    def seq_len(self) -> int:
        """Length of ``inputs``: question + BOT + longest trace + EOT + answer, minus one."""
        return self.question_len + self.max_trace_len + 2

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError(f"{type(self).__name__} has no length knob; pass length=None")
        rng = python_rng(generator)
        return self.collate([self.draw(rng) for _ in range(n)])

    def collate(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        """The token-level batch plus ``question``, ``trace``, ``trace_len`` and ``answer``."""
        n, lq, s = len(examples), self.question_len, self.max_trace_len
        length = self.seq_len
        inputs = torch.zeros(n, length, dtype=torch.long)
        targets = torch.zeros(n, length, dtype=torch.long)
        mask = torch.zeros(n, length, dtype=torch.bool)
        question = torch.full((n, lq), PAD, dtype=torch.long)
        trace = torch.full((n, max(s, 1)), PAD, dtype=torch.long)
        trace_len = torch.zeros(n, dtype=torch.long)
        answer = torch.zeros(n, dtype=torch.long)
        for i, ex in enumerate(examples):
            if len(ex.question) > lq or len(ex.trace) > s:
                raise ValueError(
                    f"{type(self).__name__}: example longer than the task's layout (question "
                    f"{len(ex.question)} > {lq} or trace {len(ex.trace)} > {s})"
                )
            q = [PAD] * (lq - len(ex.question)) + list(ex.question)
            seq = q + [BOT] + list(ex.trace) + [EOT, ex.answer]
            inputs[i, : len(seq) - 1] = torch.tensor(seq[:-1])
            start = lq  # position of BOT in inputs: its target is the first step
            labels = seq[start + 1 :]
            targets[i, start : start + len(labels)] = torch.tensor(labels)
            mask[i, start : start + len(labels)] = True
            question[i] = torch.tensor(q)
            trace[i, : len(ex.trace)] = torch.tensor(ex.trace, dtype=torch.long)
            trace_len[i] = len(ex.trace)
            answer[i] = ex.answer
        out = {
            "inputs": inputs,
            "targets": targets,
            "mask": mask,
            "question": question,
            "trace": trace[:, :s] if s else trace[:, :0],
            "trace_len": trace_len,
            "answer": answer,
        }
        dists = [self.step_distributions(ex) for ex in examples]
        if any(d is not None for d in dists):  # multi-trace targets (CoT2): (n, S, vocab)
            td = torch.zeros(n, s, self.vocab_size)
            for i, (ex, d) in enumerate(zip(examples, dists)):
                if d is None:
                    td[i, torch.arange(len(ex.trace)), torch.tensor(ex.trace, dtype=torch.long)] = 1.0
                    continue
                for t, dist in enumerate(d):
                    for tok, p in dist.items():
                        td[i, t, tok] = p
            out["trace_dist"] = td
        return out

    def step_distributions(self, example: Example) -> list[dict[int, float]] | None:
        """Per step, a distribution over step tokens across every valid trace (None: the one trace)."""
        return None

    def describe(self, batch: dict, i: int) -> dict:
        """Row ``i`` of ``batch`` as a structured record plus its ``trace`` and ``answer`` tokens."""
        for k in ("question", "trace", "trace_len", "answer"):
            if k not in batch:
                raise ValueError(f"describe expects a batch from {type(self).__name__}.sample (no {k!r})")
        n = batch["answer"].shape[0]
        if not 0 <= i < n:
            raise ValueError(f"describe: row {i} outside the batch of {n}")
        q = [t for t in batch["question"][i].tolist() if t != PAD]
        out = self.parse(q)
        k = int(batch["trace_len"][i])
        steps = batch["trace"][i, :k].tolist()
        out["trace"] = [self.decode_step(t) for t in steps]
        out["answer"] = self.decode_answer(int(batch["answer"][i]))
        out["trace_tokens"], out["answer_token"] = steps, int(batch["answer"][i])
        return out

    def decode_step(self, token: int):
        """The value a step token stands for (a node, a partial sum, an intermediate result)."""
        return token

    def decode_answer(self, token: int):
        """The value the answer token stands for."""
        return self.decode_step(token)

    def example_batch(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        """A batch from examples built by hand (e.g. with a subclass's ``make_example``)."""
        if not examples:
            raise ValueError("example_batch needs at least one example")
        return self.collate(examples)
